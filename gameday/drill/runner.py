"""One drill, phase by phase: preflight, steady state, inject, detect, recover, resolve, verdict."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assertions.alerts import PageResult, Watch, assert_page, assert_quiet, late_page_reason, wait_for_page
from assertions.mttr import Resolution, assert_mttr, wait_for_resolution
from gameday.core.clock import Clock
from gameday.core.durations import human
from gameday.core.errors import (
    DrillAborted,
    DrillFailed,
    DrillSkipped,
    GamedayError,
    HarnessError,
    StackUnreachable,
)
from gameday.core.signals import signals_deferred
from gameday.drill.preflight import Preflight, run_preflight
from gameday.drill.recover import after_runbook, recover, runbook_steps
from gameday.drill.stopconditions import StopConditions
from gameday.drill.stopconditions import validate as validate_stops
from gameday.faults import Fault, Ledger
from gameday.load.locust import LocustRun, SharedLoad, load_summary
from gameday.load.surge import TrafficSurge
from gameday.observe.provenance import PageCheck, early_page
from gameday.observe.stackhealth import StackHealth
from gameday.observe.timerlag import LagProbe
from gameday.pipeline.detection import Window, estimate, windows
from gameday.pipeline.groups import LINGER, GroupState, group_state
from gameday.pipeline.timing import PipelineTiming
from gameday.pipeline.youngwindows import quiet_wait, young_page
from gameday.record.events import DrillEvents
from gameday.record.journal import DrillRecord
from gameday.report.evidence import gather_evidence
from gameday.scenario.model import LOAD_FAULT_KINDS, Scenario
from gameday.target.errorbudget import ErrorBudgetGate
from gameday.target.protocol import Target


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
    regression: str = "warn"
    """A TTN that regressed against the scenario's earlier drills (``gameday.report.trends``): ``warn`` or ``fail``."""
    shadow: Any = None
    """A shadow exercise's pager (``gameday.shadow.pager.Pager``): a person handles the incident, not the harness."""
    loads: SharedLoad | None = None
    """The session's Locust, which each drill borrows (``gameday.load.locust.SharedLoad``); None: each drill starts and
    stops a Locust of its own."""
    shadow_timeout: float | None = None
    """In a shadow exercise, the drill-clock seconds after the page at which the harness reverts the fault itself
    (default: twice the MTTR goal)."""


class Drill:
    def __init__(self, scenario: Scenario, ctx: DrillContext, source: str = "", events: DrillEvents | None = None,
                 clock: Clock | None = None) -> None:
        self.scenario, self.ctx, self.source = scenario, ctx, source or scenario.id
        self.events = events or DrillEvents()
        self.clock = clock or Clock()
        self.scaled = scenario.scaled(ctx.time_scale)
        self.record = DrillRecord(scenario.id, scenario.title, scenario.priority, scenario.runbook, ctx.time_scale,
                                  self.clock)
        self.record.goals = {**{f"sla:{a}": s for a, s in self.scaled.sla.items()}, "mttr": self.scaled.mttr_goal}
        self.record.receivers = {e.alert: e.receiver for e in scenario.expect}
        self.record.run_id = ctx.run_id
        self.events.subscribe(self.record)
        self.phase = ""
        self.load: LocustRun | None = None
        self.deliveries_failed: int | None = None
        """Alertmanager's failed notification attempts at the fault (``Alertmanager.failed_deliveries``)."""
        self.pre: Preflight | None = None
        self.fault: Fault | None = None
        self.groups: dict[str, GroupState] = {}
        """Per expected alert, the Alertmanager group its page meets, read just before the fault."""
        self.timing: dict[str, PipelineTiming] = {}
        """Per expected alert, the pipeline's timing for the group case that applies."""
        self._last_progress = 0.0
        self.target = ctx.target
        self.pages = PageCheck(self.target.prometheus, self.target.alertmanager)
        """Every page is held against Prometheus and Alertmanager before it counts (``gameday.observe.provenance``)."""
        self.watch = Watch(self.target.prometheus, self.target.receiver, self.clock, self.pages)
        self.health = StackHealth({}, self.clock)
        """Watches Prometheus and Alertmanager from the fault on (see ``_watch_stack``)."""
        self.stops = StopConditions([], self.target.prometheus, self.clock)
        """Armed at the fault: the scenario's and the global stop conditions."""

    # -- helpers ---------------------------------------------------------------------------------
    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
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

    def _mark(self, name: str, t: float, detail: str = "", alert: str | None = None) -> None:
        """A timeline mark: the drill's own, or (``alert``) one expected alert's."""
        self.events.marked.fire(name=name, t=t, detail=detail, alert=alert)

    def _progress(self, note: str, deadline: float | None = None, started: float | None = None) -> None:
        self.health.check(self.phase)
        self.stops.check(self.phase)
        if (line := self._watchdog_took_over()) is not None:
            raise HarnessError(line)
        if "t_inject" in self.record.marks:  # each page judged as it comes, while its twin can still be asked
            self.watch.vet(0.0)
        now = self.clock.now()
        if now - self._last_progress < 0.2:
            return
        self._last_progress = now
        self.events.progress.fire(phase=self.phase, t=now, elapsed=None if started is None else now - started,
                                  deadline=deadline, note=note)

    def _sleep(self, seconds: float, note: str) -> None:
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self._progress(note, deadline=seconds, started=end - seconds)
            time.sleep(min(left, self.ctx.poll))

    def _sli_healthy(self) -> bool:
        """The user's view: the target's SLI probe answers."""
        return self.target.sli_healthy()

    def _make_fault(self) -> Fault:
        spec = self.scenario.fault
        if spec.kind == "traffic-surge":
            assert self.load is not None
            return TrafficSurge(spec.target, self.load, spec.users, spec.spawn_rate, self.ctx.ledger)
        return self.target.faults.build(self.target, spec, self.scaled.fault_duration, self.ctx.ledger)

    # -- the drill -------------------------------------------------------------------------------
    def run(self) -> DrillRecord:
        """Run every phase; the verdict and the journal are written on every way out."""
        rec = self.record
        interrupted: BaseException | None = None
        try:
            self._phases()
            rec.verdict = "PASS"
        except DrillFailed as exc:
            rec.verdict, rec.reasons = "FAIL", [str(exc)]
        except DrillAborted as exc:
            fault = self.fault
            what = ("no fault was in" if fault is None or not fault.attempted else
                    f"{fault.describe()} was reverted at once" if not fault.active else
                    f"the revert of {fault.describe()} did not complete")
            rec.verdict, rec.reasons = "ABORTED", [f"{exc}; {what}"]
        except DrillSkipped as exc:
            rec.verdict, rec.reasons = "SKIPPED", [str(exc)]
        except StackUnreachable as exc:
            text = str(exc)
            cause = self._diagnosis()
            if cause:
                text = f"{cause}: {text}"
            if "says nothing about the alert" not in text:
                text += f" (during {self.phase}); this says nothing about the alert"
            rec.verdict, rec.reasons = "ERROR", [text]
        except GamedayError as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # the revert that followed an interruption failed
                interrupted = exc.__context__
                rec.verdict, rec.reasons = "ERROR", [self._interruption(interrupted, exc)]
            else:
                rec.verdict, rec.reasons = "ERROR", [str(exc)]
        except KeyboardInterrupt as exc:
            rec.verdict, rec.reasons = "ERROR", [self._interruption(exc)]
            interrupted = exc
        except Exception as exc:  # a bug in the harness: keep the record, then let the traceback show
            rec.verdict, rec.reasons = "ERROR", [f"harness error: {type(exc).__name__}: {exc}"]
            raise
        finally:
            self._finish()
        if interrupted is not None:
            raise interrupted
        return rec

    def _watch_stack(self) -> None:
        """From here to the end, Prometheus or Alertmanager failing or restarting is ERROR."""
        self.health = StackHealth({"Prometheus": self.target.prometheus, "Alertmanager": self.target.alertmanager},
                                  self.clock)
        self.health.baseline()

    def _interruption(self, exc: BaseException, revert_error: BaseException | None = None) -> str:
        """What an interruption cut short, and what became of the fault."""
        how = f"interrupted ({exc})" if str(exc).startswith("signal") else "interrupted (Ctrl-C)"
        fault = self.fault
        if fault is None or not fault.attempted:
            return f"{how} during {self.phase}, before any fault was injected"
        if fault.active:
            why = revert_error or (exc.__context__ if isinstance(exc.__context__, GamedayError) else None)
            return (f"{how} during {self.phase}, after {fault.describe()} was injected; its revert did not complete"
                    + (f": {why}" if why else ""))
        return f"{how} during {self.phase}, after {fault.describe()} was injected; the fault was reverted"

    def _phases(self) -> None:
        sc, target = self.scenario, self.target
        with self._phase("preflight"):
            self.pre = run_preflight(sc, self.source, target, self.scaled.sla)
            if sc.recovery.mode == "runbook" and self.ctx.shadow is None:
                runbook_steps(self)  # a runbook with no version for this target: SKIPPED before any fault
            self._gate_error_budget()
            validate_stops(target.prometheus, [
                *((c, self.source, f"abort_when[{i}]") for i, c in enumerate(sc.abort_when)),
                *((c, self.ctx.abort_source, f"[{i}]") for i, c in enumerate(self.ctx.abort_when))])
            self._settle_groups("preflight")
        with self._phase("steady-state"):
            if self.ctx.loads is not None:  # the session's Locust, already running after the first drill
                self.load = self.ctx.loads.borrow(self.ctx.root / sc.load.locustfile, target.url(target.sli.service),
                                                  sc.load.users, sc.load.spawn_rate)
            else:
                self.load = LocustRun(self.ctx.root / sc.load.locustfile, target.url(target.sli.service),
                                      sc.load.users, sc.load.spawn_rate, self.ctx.reports / "load" / sc.id,
                                      steerable=sc.fault.kind in LOAD_FAULT_KINDS)
                self.load.start()
                self.load.wait_flowing()
            self._mark("t_steady", self.clock.now(), "baseline load flowing")
            self._steady_state()
            self._settle_groups("at the fault")
            self.deliveries_failed = self._deliveries_failed()  # what a late page is told against
            self._expect_detection()
            self._watch_stack()
            self.stops = StopConditions([*self.scenario.abort_when, *self.ctx.abort_when], self.target.prometheus,
                                        self.clock).start()
        fault = self.fault = self._make_fault()
        self.record.fault = {"kind": sc.fault.kind, "target": sc.fault.target, "description": fault.describe()}
        lag = LagProbe().start()
        try:
            with self._phase("inject"):
                t_inject = self.clock.from_mono(fault.inject())
                self._mark("t_inject", t_inject, fault.describe())
            with self._phase("detect"):
                pages = self._detect(t_inject)
            with self._phase("recover"):
                recover(self, fault, t_inject)
            if self._fault_stays:  # the fault stays in until the resolution is judged
                with self._phase("resolve"), after_runbook(sc, self.ctx.shadow is not None):
                    self._resolve(pages)
                    assert_quiet(self.watch, sc.quiet, 0.0)
                if self.ctx.shadow is not None:
                    from gameday.shadow.exercise import assert_acknowledged

                    assert_acknowledged(self)
        finally:
            try:
                fault.revert()
            finally:
                self.record.timer_lag = lag.stop()
            self.stops.stop()  # the fault is out: the blast radius is no longer the drill's to guard
        if not self._fault_stays:
            with self._phase("resolve"):
                self._resolve(pages)
                assert_quiet(self.watch, sc.quiet, 0.0)

    @property
    def _fault_stays(self) -> bool:
        """A runbook's commands or a person end the fault: the harness leaves it in until the resolution is judged."""
        return self.scenario.recovery.mode == "runbook" or self.ctx.shadow is not None

    def _finish(self) -> None:
        """Stop the load, gather the evidence, write the journal, tell the subscribers."""
        rec = self.record
        fault = self.fault
        self.stops.stop()
        if fault is not None and fault.injected_at is not None and "t_inject" not in rec.marks:
            # a signal held back during the injection lands before the mark: the timeline still says when it went in
            self._mark("t_inject", self.clock.from_mono(fault.injected_at), fault.describe())
        if self.ctx.shadow is not None:
            from gameday.shadow.debrief import debrief, newest_automated

            if self.ctx.shadow.trainee_log is not None:  # what the trainee did after the mitigation too
                self.ctx.shadow.trainee_log.gather(force=True)
            rec.shadow = debrief(rec, newest_automated(self.ctx.reports / "drills", self.scenario.id))
        taken = self._watchdog_took_over()
        if taken is not None and rec.verdict in ("PASS", "FAIL"):
            was = f"; the verdict would have read {rec.verdict}" + (f": {rec.reasons[0]}" if rec.reasons else "")
            rec.verdict, rec.reasons = "ERROR", [taken + was]
        elif taken is not None and not any(taken in r for r in rec.reasons):
            rec.reasons.append(taken)
        interrupted: KeyboardInterrupt | None = None
        try:
            with self._phase("verdict"):
                if self.load is not None:
                    rec.load = load_summary(self.load, self.ctx.reports / "load" / self.scenario.id
                                            / f"{rec.file_stem()}-window.csv")
                rec.notifications = [n.as_dict() | {"t": self.watch.arrival(n)}
                                     for n in self.watch.notifications(0.0)]
                self._record_refused()
                gather_evidence(self)
        except KeyboardInterrupt as exc:  # its evidence is incomplete: a drill whose verdict was cut never passes
            interrupted = exc
            if rec.verdict == "PASS":
                rec.verdict, rec.reasons = "ERROR", [self._interruption(exc)]
            elif not any(r.startswith("interrupted") for r in rec.reasons):
                rec.reasons.append(f"{self._interruption(exc)}: the evidence is incomplete")
        with signals_deferred("the drill's journal"):  # short and bounded: the record is whole or not written
            rec.write(self.ctx.reports / "drills")
            self.events.finished.fire(record=rec)
        if interrupted is not None:
            raise interrupted

    def _diagnosis(self) -> str | None:
        """What the platform under the monitoring stack says of its failure (a target's optional ``diagnose``)."""
        diagnose = getattr(self.target, "diagnose", None)
        try:
            return diagnose() if diagnose is not None else None
        except Exception:  # noqa: BLE001 - a diagnosis that fails adds nothing; the ERROR stands as it is
            return None

    def _watchdog_took_over(self) -> str | None:
        """Once the watchdog reverted the fault (the harness sent no heartbeat past ``--watchdog``: it was stalled),
        the drill is ERROR naming it, marked on the timeline: what came after is not the fault's doing."""
        fault = self.fault
        close = fault.taken_over() if fault is not None else None
        if close is None:
            return None
        t = self.clock.from_wall(float(close.get("wall", 0.0)))
        if "t_watchdog_reverted" not in self.record.marks:
            self._mark("t_watchdog_reverted", t, f"the watchdog {close.get('state')} {fault.describe()}")  # type: ignore[union-attr]
        return (f"the watchdog took {fault.describe()} out at +{t:.1f}s, {close.get('note')}: the harness was "  # type: ignore[union-attr]
                f"stalled (stopped or starved) past --watchdog; the timeline after that is not the fault's, so this "
                "says nothing about the alert")

    def _record_refused(self) -> None:
        """Pages that did not count, in the journal: POSTs the receiver refused during the drill (no secret), and
        pages with the secret that Prometheus and Alertmanager did not back."""
        rec = self.record
        rejections = getattr(self.target.receiver, "rejections", None)  # a plugin's receiver may keep none
        refused = [r.as_dict() | {"t": self.clock.from_mono(r.arrived), "status": "refused by the receiver"}
                   for r in (rejections(since=self.clock.anchor_mono) if rejections is not None else [])]
        rec.pages_refused = refused + list(self.pages.refused)
        if rec.pages_refused:
            rec.cautions.append(f"{len(rec.pages_refused)} page(s) refused as not from the run's Alertmanager "
                                f"or not backed by its alerts (first: {rec.pages_refused[0].get('why')}); none "
                                "counted toward the verdict")

    def _read_groups(self) -> dict[str, GroupState]:
        """The Alertmanager group each expected alert's page would meet now."""
        assert self.pre is not None
        am = self.target.alertmanager
        active, total, now = am.groups(), am.aggregation_groups(), self.clock.now()
        return {e.alert: group_state(e.alert, e.receiver, self.pre.group_labels[e.alert], active, total,
                                     self.watch.group_pages(e.receiver, self.target.alerting_epoch), now)
                for e in self.scenario.expect}

    def _gate_error_budget(self) -> None:
        """The error budget policy decides whether this drill may spend the target's budget."""
        if self.ctx.error_budget is None:
            return
        decision = self.ctx.error_budget.decide(self.target)
        self.record.error_budget = decision.as_dict()
        self.events.noted.fire(phase=self.phase, t=self.clock.now(), note=decision.line())
        if decision.forbids:
            raise DrillSkipped(decision.line())

    def _settle_groups(self, when: str) -> None:
        """Record the group case and the floor and ceiling that go with it."""
        assert self.pre is not None
        self.groups = self._read_groups()
        self.timing = {a: t.with_group(self.groups[a].joins_group) for a, t in self.pre.timing.items()}
        rec = self.record
        for alert, state in self.groups.items():
            rec.alert_groups.setdefault(alert, {})[when] = state.as_dict()
            rec.floors[f"notify_floor:{alert}"] = self.timing[alert].notify_floor
            rec.floors[f"notify_ceiling:{alert}"] = self.timing[alert].notify_ceiling

    def _expect_detection(self) -> None:
        """Where the rule's shape allows it, the page's expected time at this fault's intensity (``ratewindow``),
        from the history each window holds now; recorded beside the floor, and said when it is past the SLA."""
        assert self.pre is not None
        for exp in self.scenario.expect:
            conds = self.pre.conditions.get(exp.alert)
            if not conds or self.pre.intensity is None:
                continue
            timing = self.timing[exp.alert]
            try:
                held = windows(self.target.prometheus, conds, timing.scrape_interval)
            except StackUnreachable:
                held = {}
            est = estimate(conds, self.pre.intensity, held)
            if est.lag is None:
                continue
            expected = est.lag + timing.notify_floor
            self.record.floors[f"expected_ttn:{exp.alert}"] = expected
            sla = self.scaled.sla[exp.alert]
            late = f"; that is past its SLA of {human(sla)}: expect a late page" if expected > sla else ""
            self.events.noted.fire(phase=self.phase, t=self.clock.now(),
                                   note=f"{exp.alert}: page expected about {human(expected)} after the fault "
                                        f"({est.why}, then for and group_wait){late}")
            self._young_windows(exp.alert, conds, held, expected)

    def _warm_quiet_windows(self) -> None:
        """Before the fault, a quiet alert's young window fills with healthy traffic (``youngwindows``)."""
        assert self.pre is not None
        quiet = {c: q for q in self.scenario.quiet for c in (self.pre.conditions.get(q) or []) if c.job is not None}
        if not quiet or not self.pre.timing:
            return
        scrape = next(iter(self.pre.timing.values())).scrape_interval
        wait = quiet_wait(quiet, windows(self.target.prometheus, list(quiet), scrape), scrape,
                          max(self.scaled.sla.values()))
        if wait.note:
            self.events.noted.fire(phase=self.phase, t=self.clock.now(), note=wait.note)
        start = self.clock.now()
        while (elapsed := self.clock.now() - start) < wait.seconds:
            assert wait.condition is not None
            self._progress(f"{wait.alert}'s {human(wait.condition.window)} window filling with healthy traffic",
                           deadline=wait.seconds, started=start)
            time.sleep(min(0.25, wait.seconds - elapsed))

    def _young_windows(self, alert: str, conds: list[Any], held: dict[Any, Window], expected: float) -> None:
        """An expected alert's young windows: the journal and the summary say what the drill proves
        (``youngwindows``)."""
        assert self.pre is not None and self.pre.intensity is not None
        young = young_page(alert, conds, held, self.pre.intensity, expected, self.timing[alert].notify_floor)
        if young is not None:
            self.record.floors[f"expected_ttn_warm:{alert}"] = young[0]
            self.events.noted.fire(phase=self.phase, t=self.clock.now(), note=young[1])

    def _lingering(self) -> list[GroupState]:
        if self.scenario.alert_group == "repeat":
            return []
        return [g for g in self._read_groups().values() if g.joins_group]

    def _clean_slate(self, lingering: list[GroupState]) -> None:
        """Make this page a first incident's: no group of an earlier incident may be there for it to join.

        Where the harness owns the monitoring stack it restarts Prometheus and Alertmanager, which
        forget the earlier incident; elsewhere it waits until the earlier group can no longer exist.
        """
        names = ", ".join(g.alert for g in lingering)
        reset = getattr(self.target, "reset_alerting", None) if self.target.owns_monitoring else None
        if reset is not None:
            self._progress(f"restarting Prometheus and Alertmanager: they still hold the last {names} incident "
                           f"({lingering[0].detail})")
            t0 = self.clock.now()
            reset()
            self._mark("t_alerting_reset", self.clock.now(), f"Prometheus and Alertmanager restarted in "
                                                             f"{human(self.clock.now() - t0)} to forget the last "
                                                             f"{names} incident")
            if left := self._lingering():
                raise HarnessError(f"steady state not reached: after a restart Alertmanager still holds the group "
                                   f"of {left[0].alert} ({left[0].detail})")
            return
        started = self.clock.now()
        while left := self._lingering():
            clear_by = max(g.clear_by or self.clock.now() + LINGER for g in left)
            if self.clock.now() - started > LINGER:
                raise HarnessError(f"steady state not reached: Alertmanager may still hold the group of "
                                   f"{left[0].alert} after {human(LINGER)} ({left[0].detail})")
            self._progress(f"waiting until Alertmanager can hold no group of the last {names} incident (Prometheus "
                           "resends a resolved alert for 15 min; not time-scaled)", deadline=clear_by - started,
                           started=started)
            time.sleep(1.0)

    def _steady_state(self) -> None:
        """Hold a clean window: no watched alert firing, no earlier incident's group, predictions answered.

        An alert still firing from an earlier drill is given up to the MTTR goal to clear (the window
        starts again once it has); after that the lab is not healthy: ERROR. Then, unless the scenario
        drills a repeat on purpose, an earlier incident's Alertmanager group is cleared (see
        ``_clean_slate``) and the window is held once more.
        """
        self._warm_quiet_windows()
        self._hold_window()
        if lingering := self._lingering():  # one read of Alertmanager's groups, handed on
            self._clean_slate(lingering)
            self._hold_window()
        if not self._sli_healthy():
            raise HarnessError("steady state not reached: the gateway does not answer predictions before the fault")

    def _clears_within(self, alert: str) -> float:
        """How long an alert of an earlier incident may rightly stay firing once its cause is gone: its shortest
        rate window must first let go of the earlier errors (the MTTR goal when no window is known)."""
        assert self.pre is not None
        conds, rule = self.pre.conditions.get(alert), self.pre.rules.get(alert)
        if not conds:
            return self.scaled.mttr_goal
        return max(self.scaled.mttr_goal, min(c.window for c in conds) + (rule.group_interval_s if rule else 0.0))

    def _hold_window(self) -> None:
        watched = [e.alert for e in self.scenario.expect] + list(self.scenario.quiet)
        window = self.scaled.steady_state
        first = start = self.clock.now()
        poll = max(self.ctx.ask, window / 50)  # each look is an HTTP request: a clean window needs no finer look
        while (elapsed := self.clock.now() - start) < window:
            firing = sorted({a.name for a in self.watch.prometheus.alerts()
                             if a.name in watched and a.state == "firing"})
            longest = max((self._clears_within(a) for a in firing), default=self.scaled.mttr_goal)
            settle = window + longest
            if firing and self.clock.now() - first > settle:
                raise HarnessError(f"steady state not reached: {', '.join(firing)} still firing after "
                                   f"{human(settle)}; the lab is not healthy (see reports/lab/logs)")
            if firing:
                start = self.clock.now()
                why = (f" (its rate window still holds an earlier incident's errors: up to {human(longest)})"
                       if longest > self.scaled.mttr_goal else "")
                self._progress(f"waiting for {', '.join(firing)} to clear before the fault{why}", deadline=settle,
                               started=first)
            else:
                self._progress(f"baseline load, watching {', '.join(watched)}", deadline=window, started=start)
            time.sleep(min(poll, max(window - elapsed, 0.001)))

    def _detect(self, t_inject: float) -> list[PageResult]:
        pages = []
        for exp in self.scenario.expect:
            sla = self.scaled.sla[exp.alert]
            timeout = max(2 * sla, sla + 1.0)

            def tick(r: PageResult, sla: float = sla, alert: str = exp.alert, to: str = exp.receiver) -> None:
                self._progress(f"{alert} {r.last_state}, waiting for the page at {to}", deadline=sla,
                               started=t_inject)

            # the page carries the alert's own firing time: Prometheus's state is only asked for the diagnosis
            # of a page that never comes, so a few times a second (or per evaluation, when that is slower)
            every = max(self.ctx.ask, self.timing[exp.alert].evaluation_interval / 2)
            result = wait_for_page(self.watch, exp.alert, exp.receiver, t_inject, timeout, self.ctx.poll, tick,
                                   ask_every=every)
            if result.firing_seen is not None:
                self._mark("t_firing_seen", result.firing_seen, f"{exp.alert} seen firing in Prometheus", exp.alert)
            if result.starts_at is not None:
                self._mark("t_firing", result.starts_at, exp.alert, exp.alert)
            if result.notified is not None:
                self._mark("t_notified", result.notified, f"{exp.alert} at {exp.receiver}", exp.alert)
                self._mark("t_notified_seen", result.notified_seen or result.notified,
                           f"harness saw the {exp.alert} page", exp.alert)
                timing = self.timing.get(exp.alert)
                early = timing and early_page(result.notified - t_inject, timing.notify_floor,
                                              timing.evaluation_interval)
                if early:
                    self.record.cautions.append(f"{exp.alert}: {early}")
                    self.events.noted.fire(phase=self.phase, t=self.clock.now(), note=f"{exp.alert}: {early}")
            why = late_page_reason(result, t_inject, self.timing.get(exp.alert), self.groups.get(exp.alert),
                                   self._failed_deliveries(result, t_inject, sla))
            try:
                assert_page(result, t_inject, sla, why)
            except DrillFailed:
                self.health.check(self.phase, force=True)  # a broken stack is ERROR, not a verdict on the alert
                raise
            pages.append(result)
        return pages

    def _failed_deliveries(self, result: PageResult, t_inject: float, sla: float) -> int | None:
        """For a late page only: Alertmanager's failed notification attempts since the fault."""
        if result.notified is not None and result.notified - t_inject <= sla or self.deliveries_failed is None:
            return None
        now = self._deliveries_failed()
        return None if now is None else now - self.deliveries_failed

    def _deliveries_failed(self) -> int | None:
        read = getattr(self.target.alertmanager, "failed_deliveries", None)  # a plugin target's may not count them
        try:
            return read() if read is not None else None
        except StackUnreachable:
            return None

    def _resolve(self, pages: list[PageResult]) -> None:
        goal = self.scaled.mttr_goal
        awaited = {e.alert for e in self.scenario.expect if e.resolve}
        for page in pages:
            assert page.notified is not None
            if page.alert not in awaited:
                self.events.noted.fire(phase=self.phase, t=self.clock.now(),
                                       note=f"{page.alert}: its resolution is not awaited (resolve: false)")
                continue

            def tick(r: Resolution, page: PageResult = page) -> None:
                self._progress(f"waiting for {page.alert} to resolve at {page.receiver}", deadline=goal,
                               started=page.notified)

            res = wait_for_resolution(self.watch, page.alert, page.receiver, page.fingerprint, page.notified,
                                      goal * 1.5, self._sli_healthy, self.ctx.ask, tick)
            if res.resolved is not None:
                self._mark("t_resolved", res.resolved, f"{page.alert} at {page.receiver}, service healthy", page.alert)
            try:
                assert_mttr(page.alert, res, page.notified, goal)
            except DrillFailed:
                self.health.check(self.phase, force=True)
                raise
