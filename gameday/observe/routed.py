"""Pages proved *routed*: what an Alertmanager gameday does not own holds, read from its API.

Where gameday's webhook is not in the team's receivers, the most the harness can see is Alertmanager's own view:
``/api/v2/alerts`` lists each active alert (here only those neither silenced nor inhibited) with the receivers its
labels route to. ``RoutedView`` asks a few times a second and turns each alert it newly holds at a receiver into the
firing notification a receiver would have had, and each that it no longer holds into a resolved one, so the drill
judges them as it judges pages. They prove where Alertmanager routed the alert, and when it first held it there:
not that a notification was sent (that is before ``group_wait``), nor that it arrived.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from gameday.core.errors import HarnessError
from gameday.observe.receiver import Deliveries, Notification


def _firing(a: dict[str, Any], receiver: str) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": receiver, "groupLabels": {},
            "alerts": [{"status": "firing", "labels": a.get("labels", {}), "annotations": a.get("annotations", {}),
                        "startsAt": a.get("startsAt"), "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": a.get("fingerprint")}]}


class RoutedView(Deliveries):
    """Alertmanager's active, unsilenced, uninhibited alerts at their receivers, as notifications."""

    def __init__(self, alertmanager: Any, every: float = 0.25) -> None:
        super().__init__()
        self.alertmanager, self.every = alertmanager, every
        self.problem: str | None = None
        """The last failed look (Alertmanager not answering), if the latest one failed."""
        self._held: dict[tuple[str, str], dict[str, Any]] = {}
        """(fingerprint, receiver) -> the alert as last seen."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="routed-view", daemon=True)

    def look(self) -> None:
        """One look at Alertmanager; new and gone alerts become notifications, stamped now."""
        body = self.alertmanager._get("/api/v2/alerts", active="true", silenced="false", inhibited="false")
        now, wall = time.monotonic(), time.time()
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for a in body if isinstance(body, list) else []:
            if not isinstance(a, dict) or (a.get("status") or {}).get("state", "active") != "active":
                continue
            for r in a.get("receivers") or []:
                seen[(str(a.get("fingerprint")), str(r.get("name")))] = a
        for key, a in seen.items():
            if key not in self._held:
                self._record(Notification(key[1], now, wall, _firing(a, key[1])))
        ended = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        for key, a in self._held.items():
            if key not in seen:
                resolved = _firing(a, key[1])
                resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
                resolved["alerts"][0]["endsAt"] = ended
                self._record(Notification(key[1], now, wall, resolved))
        self._held = seen

    def start(self) -> RoutedView:
        self.look()  # a first look that fails is the target's start failing
        self._thread.start()
        return self

    def _follow(self) -> None:
        while not self._stopping.wait(self.every):
            try:
                self.look()
                self.problem = None
            except HarnessError as exc:
                self.problem = str(exc)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
