"""A fake target for driving a whole drill in-process, in about a second, with no process started.

What it imitates, and how: a Prometheus and an Alertmanager as two objects over one shared ``Pipeline``, which
plays what a real alert pipeline would do once the fault goes in (the alert fires after ``fires_after``, its
page reaches ``pages`` through the real ``Deliveries`` the drill watches, with a fingerprint and ``startsAt``
Alertmanager holds too; after the revert it resolves). The drill's own code runs unchanged on top: preflight,
the routing and floor arithmetic, the provenance check of every page, the assertions, the journal. It proves the
drill's exits, not the real stack: that is what the integration tests do, on real Prometheus and Alertmanager.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gameday.core.errors import InjectionError, StackUnreachable
from gameday.faults.base import Fault
from gameday.observe.clients import ActiveAlert, Rule
from gameday.observe.receiver import Deliveries, Notification
from gameday.target.protocol import FaultKinds, SliProbe

SERVICE = "svc"
ROUTES = {
    "route": {"receiver": "pager", "group_by": ["alertname"], "group_wait": "10ms", "group_interval": "50ms",
              "repeat_interval": "1h",
              "routes": [{"receiver": "tickets", "matchers": ['severity="ticket"'], "group_wait": "10ms"}]},
    "receivers": [{"name": "pager"}, {"name": "tickets"}],
}


def rfc3339(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Plan:
    """What the imitated pipeline does once the fault is in."""

    fires: bool = True
    """False: the rule is broken and never fires."""
    fires_after: float = 0.05
    pages: str = "pager"
    """The receiver the page reaches (another one: a broken route)."""
    resolves: bool = True
    resolves_after: float = 0.05
    also_fires: tuple[str, ...] = ()
    """Other alerts that fire and page with the fault (a quiet alert that should not)."""
    inject_fails: bool = False
    prometheus_dies_at: str | None = None
    """A phase at whose start Prometheus stops answering."""
    stop_condition_holds: bool = False
    """Every stop condition's expression returns a series once the fault is in."""


@dataclass
class Pipeline:
    plan: Plan
    receiver: Deliveries
    rules: dict[str, Rule]
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)
    """alert name -> the alert as Alertmanager holds it (labels, fingerprint, startsAt)."""
    fired: dict[str, dict[str, str]] = field(default_factory=dict)
    """alert name -> its labels, for every alert that fired (Prometheus's ALERTS over the window)."""
    fault_in: bool = False
    prometheus_up: bool = True
    started_wall: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, name: str, status: str, alert: dict[str, Any], receiver: str) -> None:
        body = {"version": "4", "status": status, "receiver": receiver, "groupLabels": {"alertname": name},
                "alerts": [{**alert, "status": status}]}
        self.receiver._record(Notification(receiver, time.monotonic(), time.time(), body))

    def fire(self, name: str, receiver: str) -> None:
        with self._lock:
            labels = {"alertname": name, **self.rules[name].labels}
            alert = {"labels": labels, "fingerprint": f"{abs(hash(name)) % 16**16:016x}",
                     "startsAt": rfc3339(time.time())}
            self.firing[name], self.fired[name] = alert, labels
        self.page(name, "firing", alert, receiver)

    def resolve(self, name: str, receiver: str) -> None:
        with self._lock:
            alert = self.firing.pop(name, None)
        if alert is not None:
            self.page(name, "resolved", alert | {"endsAt": rfc3339(time.time())}, receiver)

    def later(self, seconds: float, fn: Any, *args: Any) -> None:
        timer = threading.Timer(seconds, fn, args)
        timer.daemon = True
        timer.start()

    def on_fault(self, expected: list[str]) -> None:
        self.fault_in = True
        if self.plan.fires:
            for name in expected:
                self.later(self.plan.fires_after, self.fire, name, self.plan.pages)
        for name in self.plan.also_fires:
            self.later(self.plan.fires_after, self.fire, name, "pager")

    def on_revert(self) -> None:
        self.fault_in = False
        if self.plan.resolves:
            for name in list(self.firing):
                self.later(self.plan.resolves_after, self.resolve, name,
                           self.plan.pages if name not in self.plan.also_fires else "pager")


class FakePrometheus:
    base_url = "http://127.0.0.1:9090"

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    def _up(self) -> None:
        if not self.p.prometheus_up:
            raise StackUnreachable(f"Prometheus at {self.base_url} did not answer (connection refused)")

    def ready(self) -> bool:
        return self.p.prometheus_up

    def started(self) -> float:
        self._up()
        return self.p.started_wall

    def version(self) -> str:
        self._up()
        return "fake"

    def alerting_rules(self) -> dict[str, Rule]:
        return dict(self.p.rules)

    def recording_rules(self) -> dict[str, str]:
        return {}

    def scrape_interval(self) -> float:
        return 0.01

    def alerts(self) -> list[ActiveAlert]:
        self._up()
        return [ActiveAlert(name, "firing", a["labels"], None) for name, a in list(self.p.firing.items())]

    def query(self, expr: str) -> list[dict[str, Any]]:
        self._up()
        if expr.startswith("max_over_time(ALERTS{"):
            return [{"metric": {"__name__": "ALERTS", "alertstate": "firing", **labels}, "value": [0, "1"]}
                    for name, labels in list(self.p.fired.items()) if f'alertname="{name}"' in expr]
        if self.p.plan.stop_condition_holds and self.p.fault_in:
            return [{"metric": {}, "value": [0, "1"]}]
        return []


class FakeAlertmanager:
    base_url = "http://127.0.0.1:9093"

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    def ready(self) -> bool:
        return True

    def started(self) -> float:
        return self.p.started_wall

    def version(self) -> str:
        return "fake"

    def receivers(self) -> list[str]:
        return [r["name"] for r in ROUTES["receivers"]]

    def config(self) -> dict[str, Any]:
        return ROUTES

    def groups(self) -> list[Any]:
        return []

    def aggregation_groups(self) -> int | None:
        return 0

    def active_alerts(self, name: str) -> list[dict[str, Any]]:
        alert = self.p.firing.get(name)
        return [alert] if alert is not None else []


class FakeFault(Fault):
    kind = "kill-service"

    def __init__(self, target: FakeTarget, service: str) -> None:
        super().__init__(service)
        self.fake = target

    def _apply(self) -> None:
        if self.fake.pipeline.plan.inject_fails:
            raise InjectionError(f"kill-service {self.target}: the service was still answering after the kill")
        self._stamp()
        self.fake.pipeline.on_fault(self.fake.expected)

    def _undo(self) -> None:
        self.fake.pipeline.on_revert()


class FakeTarget:
    """Implements ``gameday.target.protocol.Target`` over the imitated pipeline."""

    name = "fake"
    owns_monitoring = True
    created_by_run = True

    def __init__(self, plan: Plan, rules: dict[str, Rule], expected: list[str]) -> None:
        self.receiver = Deliveries()
        self.pipeline = Pipeline(plan, self.receiver, rules)
        self.prometheus = FakePrometheus(self.pipeline)
        self.alertmanager = FakeAlertmanager(self.pipeline)
        self.alerting_epoch = time.monotonic()
        self.expected = expected
        self.faults = FaultKinds(builders={"kill-service": lambda t, spec, duration, ledger: FakeFault(t, spec.target)},
                                 missing={"pause-service": "the fake target has no container to pause"})
        self.sli = SliProbe(SERVICE)

    def services(self) -> list[str]:
        return [SERVICE]

    def url(self, service: str) -> str:
        return "http://127.0.0.1:9"

    def is_running(self, service: str) -> bool:
        return True

    def last_started(self, service: str) -> float | None:
        return None

    def allowlist(self) -> list[str]:
        return ["http://127.0.0.1:9"]

    def sli_healthy(self) -> bool:
        return not self.pipeline.fault_in

    def runbook_env(self) -> dict[str, str]:
        return {}

    def reset_alerting(self) -> None:
        self.alerting_epoch = time.monotonic()

    def __enter__(self) -> FakeTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeLoad:
    """The session's Locust as a drill borrows it: no process, no figures."""

    web_port = None

    def __init__(self, folder: Any) -> None:
        self.log_path = folder / "locust.log"
        self.json_path = folder / "locust"
        self.prefix = folder / "locust"

    def stop(self) -> None:
        return None

    def workers_gone(self) -> list[str]:
        return []


class FakeLoads:
    def __init__(self, folder: Any) -> None:
        self.folder = folder

    def borrow(self, *args: Any, **kwargs: Any) -> FakeLoad:
        return FakeLoad(self.folder)
