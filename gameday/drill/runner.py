"""One drill, phase by phase: preflight, steady state, inject, detect, recover, resolve, verdict.

The runner calls each phase (a function of the ``PhaseContext``) in order and turns how the drill ended into
its verdict: the error classes carry theirs (``gameday.core.errors``), an interruption is a ``KeyboardInterrupt``
(``gameday.core.signals.Interrupted``), anything else is a bug in the harness, recorded ERROR and then raised.
The fault is reverted on every way out; the verdict phase runs on every way out.
"""

from __future__ import annotations

from gameday.core.clock import Clock
from gameday.core.errors import DrillAborted, DrillFailed, DrillSkipped, GamedayError, StackUnreachable
from gameday.core.signals import interruption_of
from gameday.core.verdict import Verdict
from gameday.drill.context import DrillContext, PhaseContext
from gameday.drill.detect import detect, failed_deliveries
from gameday.drill.preflight import preflight
from gameday.drill.recover import after_runbook, recover
from gameday.drill.resolve import resolve
from gameday.drill.steady import expect_detection, settle_groups, steady_state
from gameday.drill.stopconditions import StopConditions
from gameday.drill.verdict import finish, interruption
from gameday.faults import Fault
from gameday.load.locust import LocustRun
from gameday.load.surge import TrafficSurge
from gameday.observe.timerlag import LagProbe
from gameday.record.events import DrillEvents
from gameday.record.journal import DrillRecord
from gameday.scenario.model import LOAD_FAULT_KINDS, Scenario
from gameday.target.protocol import load_pool, reach_of

__all__ = ["Drill", "DrillContext"]


class Drill:
    def __init__(self, scenario: Scenario, ctx: DrillContext, source: str = "", events: DrillEvents | None = None,
                 clock: Clock | None = None) -> None:
        self.pc = PhaseContext(scenario, ctx, source or scenario.id, events or DrillEvents(), clock or Clock())

    @property
    def record(self) -> DrillRecord:
        return self.pc.record

    def run(self) -> DrillRecord:
        """Run every phase; the verdict and the journal are written on every way out."""
        pc, rec = self.pc, self.pc.record
        interrupted: KeyboardInterrupt | None = None
        try:
            self._phases()
            rec.verdict = Verdict.PASS
        except (DrillFailed, DrillSkipped) as exc:
            rec.verdict, rec.reasons = exc.verdict, [str(exc)]
        except DrillAborted as exc:
            fault = pc.fault
            what = ("no fault was in" if fault is None or not fault.attempted else
                    f"{fault.describe()} was reverted at once" if not fault.active else
                    f"the revert of {fault.describe()} did not complete")
            rec.verdict, rec.reasons = exc.verdict, [f"{exc}; {what}"]
        except StackUnreachable as exc:
            text = str(exc)
            if cause := pc.diagnosis():
                text = f"{cause}: {text}"
            if "says nothing about the alert" not in text:
                text += f" (during {pc.phase}); this says nothing about the alert"
            rec.verdict, rec.reasons = exc.verdict, [text]
        except GamedayError as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # the revert that followed an interruption failed
                interrupted = interruption_of(exc.__context__)
                rec.verdict, rec.reasons = Verdict.ERROR, [interruption(pc, interrupted, exc)]
            else:
                rec.verdict, rec.reasons = exc.verdict, [str(exc)]
        except KeyboardInterrupt as exc:
            interrupted = interruption_of(exc)
            rec.verdict, rec.reasons = Verdict.ERROR, [interruption(pc, interrupted)]
        except Exception as exc:  # a bug in the harness: keep the record, then let the traceback show
            rec.verdict, rec.reasons = Verdict.ERROR, [f"harness error: {type(exc).__name__}: {exc}"]
            raise
        finally:
            finish(pc, interrupted is not None)
        if interrupted is not None:
            raise interrupted
        return rec

    def _make_fault(self) -> Fault:
        pc, spec = self.pc, self.pc.scenario.fault
        if spec.kind == "traffic-surge":
            assert pc.load is not None
            return TrafficSurge(spec.target, pc.load, spec.users, spec.spawn_rate, pc.ctx.ledger)
        return pc.target.faults.build(pc.target, spec, pc.scaled.fault_duration, pc.ctx.ledger)

    def _start_load(self) -> None:
        pc, sc, target = self.pc, self.pc.scenario, self.pc.target
        # the load must outlast the drill: its steady state and SLA (twice, for a late page), the fault's hold
        # and the MTTR goal twice over, with two minutes to spare; still a bound
        need = (2 * sc.length_bound() + 2 * sc.recovery.mttr_goal) / pc.ctx.time_scale + 120
        if pc.ctx.loads is not None:  # the session's Locust, already running after the first drill
            pc.load = pc.ctx.loads.borrow(pc.ctx.root / sc.load.locustfile, target.url(target.sli.service),
                                          sc.load.users, sc.load.spawn_rate, reach=reach_of(target),
                                          workers=sc.load.workers, pool=load_pool(target, sc.load.workers),
                                          for_seconds=need)
            return
        pc.load = LocustRun(pc.ctx.root / sc.load.locustfile, target.url(target.sli.service), sc.load.users,
                            sc.load.spawn_rate, pc.ctx.reports / "load" / sc.id, max_seconds=max(1800, need),
                            steerable=sc.fault.kind in LOAD_FAULT_KINDS, reach=reach_of(target),
                            workers=sc.load.workers, pool=load_pool(target, sc.load.workers))
        pc.load.start()
        pc.load.wait_flowing()

    def _phases(self) -> None:
        pc, sc = self.pc, self.pc.scenario
        with pc.phase_of("preflight"):
            preflight(pc)
        with pc.phase_of("steady-state"):
            self._start_load()
            pc.mark("t_steady", pc.clock.now(), "baseline load flowing")
            steady_state(pc)
            settle_groups(pc, "at the fault")
            pc.deliveries_failed = failed_deliveries(pc)  # what a late page is told against
            expect_detection(pc)
            pc.watch_stack()
            pc.stops = StopConditions([*sc.abort_when, *pc.ctx.abort_when], pc.target.prometheus, pc.clock,
                                      current=lambda: pc.phase).start()
        fault = pc.fault = self._make_fault()
        pc.record.fault = {"kind": sc.fault.kind, "target": sc.fault.target, "description": fault.describe()}
        lag = LagProbe().start()
        try:
            with pc.phase_of("inject"):
                t_inject = pc.clock.from_mono(fault.inject())
                pc.mark("t_inject", t_inject, fault.describe())
            with pc.phase_of("detect"):
                pages = detect(pc, t_inject)
            with pc.phase_of("recover"):
                recover(pc, fault, t_inject)
            if pc.fault_stays:  # the fault stays in until the resolution is judged
                with pc.phase_of("resolve"), after_runbook(sc, pc.ctx.shadow is not None):
                    resolve(pc, pages)
                if pc.ctx.shadow is not None:
                    from gameday.shadow.exercise import assert_acknowledged

                    assert_acknowledged(pc)
        finally:
            try:
                fault.revert()
            finally:
                pc.record.timer_lag = lag.stop()
                for t, what in fault.recovery_steps():  # the platform's own account, each at its time
                    pc.note(f"platform: {what}", t=pc.clock.from_mono(t))
            pc.stops.stop()  # the fault is out: the blast radius is no longer the drill's to guard
        if not pc.fault_stays:
            with pc.phase_of("resolve"):
                resolve(pc, pages)
