"""The recording receiver: Alertmanager's webhooks land here, stamped on arrival."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from gameday.lifecycle import LoopbackServer, QuietHandler


@dataclass(frozen=True)
class Notification:
    """One webhook delivery (payload version 4) and when it arrived, on ``time.monotonic()``."""

    receiver: str
    arrived: float
    arrived_wall: float
    payload: dict[str, Any]

    @property
    def status(self) -> str:
        return self.payload.get("status", "")

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.payload.get("alerts", []))

    def alerts_named(self, name: str, status: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a.get("labels", {}).get("alertname") == name
                and (status is None or a.get("status") == status)]

    def as_dict(self) -> dict[str, Any]:
        return {"receiver": self.receiver, "arrived_wall": self.arrived_wall, "payload": self.payload}


class WebhookReceiver(LoopbackServer):
    """An HTTP server on loopback; ``POST /<receiver>`` records the delivery."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Condition()
        self._received: list[Notification] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                arrived, arrived_wall = time.monotonic(), time.time()
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    self.send_error(400, "body is not JSON")
                    return
                receiver._record(Notification(self.path.strip("/"), arrived, arrived_wall, payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler, "webhook", host, port)

    def _record(self, note: Notification) -> None:
        with self._lock:
            self._received.append(note)
            self._lock.notify_all()

    def nap(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking at once when a delivery arrives (a tenacity ``sleep``)."""
        with self._lock:
            self._lock.wait(seconds)

    def received(self, since: float = float("-inf")) -> list[Notification]:
        """Deliveries that arrived at or after ``since`` (``time.monotonic()``), oldest first."""
        with self._lock:
            return [n for n in self._received if n.arrived >= since]
