"""What the phases of a drill speak through: the drill's settings (``DrillContext``) and, for one drill, the
phase context (``PhaseContext``): the scenario, its scaled times, the clock, the target, the events, the record,
and the three things a phase does while it waits: mark the timeline, say its progress, note a fact.

A phase is a function of the phase context (``gameday.drill.steady``, ``detect``, ``recover``, ``resolve``,
``verdict``); the runner (``gameday.drill.runner``) calls them in order and turns how they end into a verdict.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assertions.alerts import Watch
from gameday.core.clock import Clock
from gameday.core.errors import HarnessError
from gameday.drill.stopconditions import StopConditions
from gameday.faults import Fault, Ledger
from gameday.load.locust import LocustRun, SharedLoad
from gameday.observe.provenance import PageCheck
from gameday.observe.stackhealth import StackHealth
from gameday.pipeline.groups import GroupState
from gameday.pipeline.timing import PipelineTiming
from gameday.record.events import DrillEvents
from gameday.record.journal import DrillRecord
from gameday.scenario.model import ScaledTimes, Scenario
from gameday.target.errorbudget import ErrorBudgetGate
from gameday.target.protocol import Target, optional


@dataclass
class DrillContext:
    """What a drill runs against: the project, the target, the time scale, where reports go."""

    root: Path
    reports: Path
    target: Target
    time_scale: float = 1.0
    poll: float = 0.25
    """How often in-process state is looked at. No time on the timeline comes from this poll: a page wakes the
    wait at once and carries its own arrival time; a service's restart time comes from its platform."""
    ask: float = 0.25
    """How often the harness asks over HTTP (Prometheus's alert state, the SLI probe) while it waits: never
    finer than the lab's evaluation interval at time scale 60, since finer looks would see nothing new."""
    ledger: Ledger | None = None
    abort_when: list[Any] = field(default_factory=list)
    """Global stop conditions, beside each scenario's own."""
    abort_source: str = "abort.yaml"
    """The file the global stop conditions come from, for the line that says one is wrong."""
    error_budget: ErrorBudgetGate | None = None
    """Read before the fault; a budget the policy protects makes the drill SKIPPED."""
    plots: bool = True
    """Draw each drill's PNG beside its journal (about a second of matplotlib per drill)."""
    run_id: str = ""
    """The run (pytest session) this drill belongs to: a review groups drills by it."""
    late_page_wait: float = 1.0
    """How many SLAs past an SLA the detect phase goes on waiting for a late page (at least a second)."""
    regression: str = "warn"
    """A TTN that regressed against the scenario's earlier drills (``gameday.report.trends``): ``warn`` or ``fail``."""
    shadow: Any = None
    """A shadow exercise's pager (``gameday.shadow.pager.Pager``): a person handles the incident, not the harness."""
    loads: SharedLoad | None = None
    """The session's Locust, which each drill borrows (``gameday.load.locust.SharedLoad``); None: each drill starts
    and stops a Locust of its own."""
    shadow_timeout: float | None = None
    """In a shadow exercise, the drill-clock seconds after the page at which the harness reverts the fault itself
    (default: twice the MTTR goal)."""


class PhaseContext:
    """One drill's state as its phases share it, and what they may do with it."""

    def __init__(self, scenario: Scenario, ctx: DrillContext, source: str, events: DrillEvents, clock: Clock) -> None:
        self.scenario, self.ctx, self.source, self.events, self.clock = scenario, ctx, source, events, clock
        self.target: Target = ctx.target
        self.scaled: ScaledTimes = scenario.scaled(ctx.time_scale)
        self.record = DrillRecord(scenario.id, scenario.title, scenario.priority, scenario.runbook, ctx.time_scale,
                                  clock)
        self.record.goals = {**{f"sla:{a}": s for a, s in self.scaled.sla.items()}, "mttr": self.scaled.mttr_goal}
        self.record.receivers = {e.alert: e.receiver for e in scenario.expect}
        self.record.run_id = ctx.run_id
        events.subscribe(self.record)
        self.phase = ""
        self.load: LocustRun | None = None
        self.deliveries_failed: int | None = None
        """Alertmanager's failed notification attempts at the fault (``Alertmanager.failed_deliveries``)."""
        self.pre: Any = None
        """The preflight's findings (``gameday.drill.preflight.Preflight``), once it ran."""
        self.fault: Fault | None = None
        self.groups: dict[str, GroupState] = {}
        """Per expected alert, the Alertmanager group its page meets, read just before the fault."""
        self.timing: dict[str, PipelineTiming] = {}
        """Per expected alert, the pipeline's timing for the group case that applies."""
        self.pages = PageCheck(self.target.prometheus, self.target.alertmanager)
        """Every page is held against Prometheus and Alertmanager before it counts (``gameday.observe.provenance``)."""
        skew = dict(optional(self.target, "clock_skew") or {})
        self.watch = Watch(self.target.prometheus, self.target.receiver, clock, self.pages,
                           float(skew.get("prometheus", 0.0)))
        self.health = StackHealth({}, clock)
        """Watches Prometheus and Alertmanager from the fault on (``watch_stack``)."""
        self.stops = StopConditions([], self.target.prometheus, clock)
        """Armed at the fault: the scenario's and the global stop conditions."""
        self._last_progress = 0.0

    # -- what a phase does while it runs ----------------------------------------------------------
    @contextmanager
    def phase_of(self, name: str) -> Iterator[None]:
        """The phase ``name`` runs inside: its start and end are events, its error goes with the end."""
        self.phase = name
        self.events.phase_started.fire(phase=name, t=self.clock.now())
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.events.phase_ended.fire(phase=name, t=self.clock.now(), error=error)

    def mark(self, name: str, t: float, detail: str = "", alert: str | None = None) -> None:
        """A timeline mark: the drill's own, or (``alert``) one expected alert's."""
        self.events.marked.fire(name=name, t=t, detail=detail, alert=alert)

    def note(self, text: str, t: float | None = None) -> None:
        """A fact the drill established that a reader should see; ``t`` when it happened earlier than now."""
        self.events.noted.fire(phase=self.phase, t=self.clock.now() if t is None else t, note=text)

    def progress(self, note: str, deadline: float | None = None, started: float | None = None) -> None:
        """Say where the wait is, and look at what may end it: the stack's health, the stop conditions, the
        watchdog, each page as it comes. Called at every step of every wait."""
        self.health.check(self.phase)
        self.stops.check(self.phase)
        if (line := self.watchdog_took_over()) is not None:
            raise HarnessError(line)
        fault_in = self.fault is not None and self.fault.active
        if self.load is not None and fault_in and (gone := self.load.workers_gone()):
            raise HarnessError(f"the load's Locust workers went missing while {self.fault.describe()} was in "
                               f"({'; '.join(gone)}): the load fell away, so a verdict would say nothing")
        if "t_inject" in self.record.marks:  # each page judged as it comes, while its twin can still be asked
            self.watch.vet(0.0)
        now = self.clock.now()
        if now - self._last_progress < 0.2:
            return
        self._last_progress = now
        self.events.progress.fire(phase=self.phase, t=now, elapsed=None if started is None else now - started,
                                  deadline=deadline, note=note)

    def sleep(self, seconds: float, note: str) -> None:
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self.progress(note, deadline=seconds, started=end - seconds)
            time.sleep(min(left, self.ctx.poll))

    def sli_healthy(self) -> bool:
        """The user's view: the target's SLI probe answers."""
        return self.target.sli_healthy()

    def watch_stack(self) -> None:
        """From here to the end, Prometheus or Alertmanager failing or restarting is ERROR."""
        self.health = StackHealth({"Prometheus": self.target.prometheus, "Alertmanager": self.target.alertmanager},
                                  self.clock)
        self.health.baseline()

    # -- what the platform says -----------------------------------------------------------------------
    def diagnosis(self) -> str | None:
        """What the platform under the monitoring stack says of its failure (a target's optional ``diagnose``)."""
        diagnose = optional(self.target, "diagnose")
        try:
            return diagnose() if diagnose is not None else None
        except Exception:  # noqa: BLE001 - a diagnosis that fails adds nothing; the ERROR stands as it is
            return None

    def watchdog_took_over(self) -> str | None:
        """Once the watchdog reverted the fault (the harness sent no heartbeat past ``--watchdog``: it was stalled),
        the drill is ERROR naming it, marked on the timeline: what came after is not the fault's doing."""
        fault = self.fault
        close = fault.taken_over() if fault is not None else None
        if fault is None or close is None:
            return None
        t = self.clock.from_wall(float(close.get("wall", 0.0)))
        if "t_watchdog_reverted" not in self.record.marks:
            self.mark("t_watchdog_reverted", t, f"the watchdog {close.get('state')} {fault.describe()}")
        return (f"the watchdog took {fault.describe()} out at +{t:.1f}s, {close.get('note')}: the harness was "
                f"stalled (stopped or starved) past --watchdog; the timeline after that is not the fault's, so this "
                "says nothing about the alert")

    @property
    def fault_stays(self) -> bool:
        """A runbook's commands or a person end the fault: the harness leaves it in until the resolution is judged."""
        return self.scenario.recovery.mode == "runbook" or self.ctx.shadow is not None
