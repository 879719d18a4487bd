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
        """(fingerprint, receiver) -> the alert as last seen, for each one that became a firing notification."""
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
        admitted = self.admit([key for key in seen if key not in self._held], set(seen))
        for key in admitted:
            self._record(Notification(key[1], now, wall, _firing(seen[key], key[1])))
        ended = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        for key, a in self._held.items():
            if key not in seen:
                resolved = _firing(a, key[1])
                resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
                resolved["alerts"][0]["endsAt"] = ended
                self._record(Notification(key[1], now, wall, resolved))
        self._held = {key: a for key, a in seen.items() if key in self._held or key in admitted}

    def admit(self, new: list[tuple[str, str]], held: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """Which of the alerts newly held at a receiver (``held``: all it holds now) count as paged now: routed, all
        of them."""
        return new

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


INTEGRATIONS = ("discord", "email", "msteams", "opsgenie", "pagerduty", "pushover", "slack", "sns", "telegram",
                "victorops", "webex", "webhook", "wechat")
"""Alertmanager's integrations, as its receivers' ``<name>_configs`` and its counters' ``integration`` label."""


def integrations_of(config: dict[str, Any]) -> dict[str, set[str]]:
    """Per receiver of an Alertmanager config, the integrations it notifies through."""
    return {str(r.get("name")): {i for i in INTEGRATIONS if r.get(f"{i}_configs")}
            for r in config.get("receivers") or [] if isinstance(r, dict)}


class AttemptedView(RoutedView):
    """Pages proved *attempted*: routed, and then Alertmanager's notification counters for each integration of the
    receiver moved and its failure counters did not. Where Alertmanager labels its counters with the receiver
    (``--enable-feature=receiver-name-in-metrics``) they are that receiver's; otherwise they are the integration's,
    shared by every receiver that uses it, and the proof is weaker, which ``how`` says."""

    def __init__(self, alertmanager: Any, every: float = 0.25) -> None:
        super().__init__(alertmanager, every)
        self._routes: dict[str, set[str]] = {}
        self._since: dict[tuple[str, str], dict[tuple[str, str], tuple[float, float]]] = {}
        """Per alert held at a receiver and not yet admitted, the counters when it was first held there."""
        self.failed: dict[tuple[str, str], str] = {}
        """Per alert whose notification failed (its receiver's failure counters moved): what moved."""
        self.per_receiver = False

    def prepare(self) -> AttemptedView:
        """Read which integrations each receiver has, and whether the counters name receivers."""
        self._routes = integrations_of(self.alertmanager.config())
        self.per_receiver = any(r for r, _ in self.alertmanager.notification_counters())
        return self

    def start(self) -> AttemptedView:
        self.prepare()
        super().start()
        return self

    def _counters(self, receiver: str, counters: dict[tuple[str, str], tuple[float, float]]) -> dict[str, tuple]:
        wanted = self._routes.get(receiver, set())
        label = receiver if self.per_receiver else ""
        return {i: counters.get((label, i), (0.0, 0.0)) for i in wanted}

    def admit(self, new: list[tuple[str, str]], held: set[tuple[str, str]]) -> list[tuple[str, str]]:
        counters = self.alertmanager.notification_counters()
        for key in [k for k in self._since if k not in held]:  # resolved before any attempt: forgotten
            del self._since[key]
        for key in new:
            self._since.setdefault(key, counters)
        admitted = []
        for key, before in list(self._since.items()):
            then, now = self._counters(key[1], before), self._counters(key[1], counters)
            if not now:  # a receiver with no integration sends nothing: never attempted
                continue
            failed = [i for i in now if now[i][1] > then[i][1]]
            if failed:
                self.failed[key] = f"{', '.join(failed)} notification(s) failed at {key[1]}"
                continue
            if all(now[i][0] > then[i][0] for i in now):
                admitted.append(key)
                del self._since[key]
        return admitted
