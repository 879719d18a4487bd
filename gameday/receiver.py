"""The recording receiver: Alertmanager's webhooks land here, stamped on arrival."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

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


class Deliveries:
    """Deliveries as they arrived, oldest first; a waiter wakes at each new one."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: list[Notification] = []

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

    def after(self, index: int, wait: float = 0.0) -> list[Notification]:
        """The deliveries after the first ``index``, waiting up to ``wait`` seconds for one when there are none."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._received) > index, timeout=wait)
            return self._received[index:]


class WebhookReceiver(Deliveries, LoopbackServer):
    """An HTTP server on loopback; ``POST /<receiver>`` records the delivery. ``GET /?after=N&wait=S`` answers the
    deliveries after the first N, as they arrived, waiting up to S (at most 5) seconds for one: how a session in
    another process follows a warm lab's pages (``RelayedReceiver``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        Deliveries.__init__(self)
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

            def do_GET(self) -> None:  # noqa: N802
                query = dict(parse_qsl(urlsplit(self.path).query))
                try:
                    index, wait = int(query.get("after", 0)), min(float(query.get("wait", 0)), 5.0)
                except ValueError:
                    self.send_error(400, "after=N&wait=S: numbers")
                    return
                notes = receiver.after(index, wait)
                data = json.dumps({"next": index + len(notes), "notifications": [
                    {"receiver": n.receiver, "arrived": n.arrived, "arrived_wall": n.arrived_wall,
                     "payload": n.payload} for n in notes]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        LoopbackServer.__init__(self, Handler, "webhook", host, port)


class RelayedReceiver(Deliveries):
    """Another process's receiver (a warm lab's), followed from this one: every delivery it has had, with its own
    arrival stamps (``time.monotonic()`` is one clock for every process on the machine), copied here as it
    arrives, so this session sees the whole history of pages since the lab's Prometheus and Alertmanager started."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url.rstrip("/")
        self._next = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="webhook-relay", daemon=True)
        self.problem: str | None = None

    def _fetch(self, wait: float) -> None:
        body = requests.get(self.url, params={"after": self._next, "wait": wait}, timeout=wait + 5).json()
        for n in body["notifications"]:
            self._record(Notification(n["receiver"], float(n["arrived"]), float(n["arrived_wall"]), n["payload"]))
        self._next = int(body["next"])

    def start(self) -> RelayedReceiver:
        self._fetch(0.0)  # the history first: raises when the receiver does not answer
        self._thread.start()
        return self

    def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                self._fetch(1.0)
            except (requests.RequestException, ValueError, KeyError) as exc:
                self.problem = f"{type(exc).__name__}: {exc}"
                self._stopping.wait(0.2)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(7.0)
