"""The recording receiver: Alertmanager's webhooks land here, stamped on arrival.

Only a delivery that carries the run's secret (``Authorization: Bearer <secret>``, which the harness renders into
Alertmanager's ``webhook_configs``) is recorded as a page; any other POST is refused with 401 and kept as a
``Rejection``, which the drill's journal names. Reading the deliveries back (``GET``) takes the same secret.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from gameday.core.httpserver import LoopbackServer, QuietHandler


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


@dataclass(frozen=True)
class Rejection:
    """A POST the receiver refused (no secret, a wrong one, or not a webhook body): never a page."""

    receiver: str
    arrived: float
    arrived_wall: float
    why: str
    peer: str
    alerts: tuple[str, ...] = ()
    """The alert names the body claimed, when it could be read."""

    def as_dict(self) -> dict[str, Any]:
        return {"receiver": self.receiver, "arrived_wall": self.arrived_wall, "why": self.why, "peer": self.peer,
                "alerts": list(self.alerts)}


MAX_BODY = 4 * 2 ** 20
"""The largest webhook body read; Alertmanager's pages are a few KiB."""
MAX_REJECTIONS = 1000
"""Rejections kept; a flood beyond this is counted, not stored."""


def bearer(secret: str) -> dict[str, str]:
    """The header that proves a call comes from the run (Alertmanager's page, the harness's own reads)."""
    return {"Authorization": f"Bearer {secret}"}


def carries(headers: Any, secret: str | None) -> bool:
    """Whether a request's headers carry ``secret`` as a bearer token (compared in constant time)."""
    if secret is None:
        return True
    given = str(headers.get("Authorization") or "")
    return hmac.compare_digest(given.encode(), f"Bearer {secret}".encode())


def claimed_alerts(body: bytes) -> tuple[str, ...]:
    """The alert names a (refused) body claims, for the record; nothing when it is not a webhook payload."""
    try:
        payload = json.loads(body or b"{}")
        return tuple(sorted({str(a.get("labels", {}).get("alertname", "")) for a in payload.get("alerts", [])}))
    except (ValueError, AttributeError, TypeError):
        return ()


class Deliveries:
    """Deliveries as they arrived, oldest first; a waiter wakes at each new one. Refused POSTs are kept apart."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: list[Notification] = []
        self._rejected: list[Rejection] = []
        self.rejected_count = 0
        """Every refused POST, also those past ``MAX_REJECTIONS``."""

    def _reject(self, rejection: Rejection) -> None:
        with self._lock:
            self.rejected_count += 1
            if len(self._rejected) < MAX_REJECTIONS:
                self._rejected.append(rejection)

    def rejections(self, since: float = float("-inf")) -> list[Rejection]:
        """Refused POSTs that arrived at or after ``since`` (``time.monotonic()``), oldest first."""
        with self._lock:
            return [r for r in self._rejected if r.arrived >= since]

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
    """An HTTP server; ``POST /<receiver>`` with the run's secret records the delivery. ``GET /?after=N&wait=S``
    (with the secret) answers the deliveries after the first N, as they arrived, waiting up to S (at most 5)
    seconds for one, and the refusals so far: how a session in another process follows a warm lab's pages
    (``RelayedReceiver``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, secret: str | None = None,
                 named_by_payload: bool = False) -> None:
        Deliveries.__init__(self)
        self.named_by_payload = named_by_payload
        """The page's receiver is the one its payload names (what Alertmanager says sent it), not the URL's path:
        on a team's stack the path is only what the team wrote in its config."""
        self.secret = secret or secrets.token_urlsafe(32)
        """What Alertmanager's webhook config must send; rendered into it by the harness, never into the SUT's."""
        receiver = self

        class Handler(QuietHandler):
            def _answer(self, code: int, data: bytes = b"", kind: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                arrived, arrived_wall = time.monotonic(), time.time()
                try:
                    length = int(self.headers.get("Content-Length", 0) or 0)
                except ValueError:
                    length = -1
                path, peer = self.path.strip("/"), str(self.client_address[0])
                if not 0 <= length <= MAX_BODY:
                    receiver._reject(Rejection(path, arrived, arrived_wall, f"body of {length} bytes", peer))
                    self.close_connection = True
                    self._answer(413, b"body too large\n")
                    return
                body = self.rfile.read(length)
                if not carries(self.headers, receiver.secret):
                    why = "no secret" if not self.headers.get("Authorization") else "a wrong secret"
                    receiver._reject(Rejection(path, arrived, arrived_wall, why, peer, claimed_alerts(body)))
                    self._answer(401, b"this receiver takes pages only from the run's Alertmanager\n")
                    return
                try:
                    payload = json.loads(body or b"{}")
                    if not isinstance(payload, dict):
                        raise ValueError("not an object")
                except ValueError:
                    receiver._reject(Rejection(path, arrived, arrived_wall, "body is not a JSON object", peer))
                    self._answer(400, b"body is not a JSON object\n")
                    return
                name = str(payload.get("receiver") or path) if receiver.named_by_payload else path
                receiver._record(Notification(name, arrived, arrived_wall, payload))
                self._answer(200)

            def do_GET(self) -> None:  # noqa: N802
                if not carries(self.headers, receiver.secret):
                    self._answer(401, b"the secret is needed to read the pages\n")
                    return
                query = dict(parse_qsl(urlsplit(self.path).query))
                try:
                    index, wait = int(query.get("after", 0)), min(float(query.get("wait", 0)), 5.0)
                except ValueError:
                    self.send_error(400, "after=N&wait=S: numbers")
                    return
                notes = receiver.after(index, wait)
                data = json.dumps({"next": index + len(notes), "notifications": [
                    {"receiver": n.receiver, "arrived": n.arrived, "arrived_wall": n.arrived_wall,
                     "payload": n.payload} for n in notes],
                    "rejected_count": receiver.rejected_count,
                    "rejected": [r.as_dict() | {"arrived": r.arrived} for r in receiver.rejections()]}).encode()
                self._answer(200, data, "application/json")

        LoopbackServer.__init__(self, Handler, "webhook", host, port)


class RelayedReceiver(Deliveries):
    """Another process's receiver (a warm lab's), followed from this one: every delivery it has had, with its own
    arrival stamps (``time.monotonic()`` is one clock for every process on the machine), copied here as it
    arrives, so this session sees the whole history of pages since the lab's Prometheus and Alertmanager started."""

    def __init__(self, url: str, secret: str) -> None:
        super().__init__()
        self.url = url.rstrip("/")
        self.secret = secret
        self._next = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="webhook-relay", daemon=True)
        self.problem: str | None = None

    def _fetch(self, wait: float) -> None:
        resp = requests.get(self.url, params={"after": self._next, "wait": wait}, timeout=wait + 5,
                            headers=bearer(self.secret))
        resp.raise_for_status()
        body = resp.json()
        for n in body["notifications"]:
            self._record(Notification(n["receiver"], float(n["arrived"]), float(n["arrived_wall"]), n["payload"]))
        self._next = int(body["next"])
        with self._lock:  # the source keeps every refusal: take its list as it stands
            self.rejected_count = int(body.get("rejected_count", 0))
            self._rejected = [Rejection(r["receiver"], float(r["arrived"]), float(r["arrived_wall"]), r["why"],
                                        r["peer"], tuple(r.get("alerts", ()))) for r in body.get("rejected", [])]

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
