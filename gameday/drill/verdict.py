"""The verdict phase: on every way out of a drill, the load stopped, the evidence gathered while the stack is
up, the pages that did not count written down, and the journal written whole, then told to the listeners.

A drill the watchdog took its fault from, or whose verdict phase a signal cut, never reads PASS.
"""

from __future__ import annotations

from gameday.core.errors import GamedayError
from gameday.core.signals import Interrupted, interruption_of, signals_deferred
from gameday.core.verdict import Verdict
from gameday.drill.context import PhaseContext
from gameday.drill.evidence import gather_evidence
from gameday.load.locust import load_summary
from gameday.target.protocol import optional


def interruption(pc: PhaseContext, exc: BaseException, revert_error: BaseException | None = None) -> str:
    """What an interruption cut short, and what became of the fault."""
    how = f"interrupted ({interruption_of(exc).how})"
    fault = pc.fault
    if fault is None or not fault.attempted:
        return f"{how} during {pc.phase}, before any fault was injected"
    if fault.active:
        why = revert_error or (exc.__context__ if isinstance(exc.__context__, GamedayError) else None)
        return (f"{how} during {pc.phase}, after {fault.describe()} was injected; its revert did not complete"
                + (f": {why}" if why else ""))
    return f"{how} during {pc.phase}, after {fault.describe()} was injected; the fault was reverted"


def finish(pc: PhaseContext, interrupted: bool) -> None:
    """Stop the load, gather the evidence, write the journal, tell the subscribers. ``interrupted``: the drill
    was already cut short by a signal (its reasons say so). A signal here ends the verdict phase early: the
    drill is ERROR, and the signal goes on once the journal is written."""
    rec = pc.record
    fault = pc.fault
    pc.stops.stop()
    if fault is not None and fault.injected_at is not None and "t_inject" not in rec.marks:
        # a signal held back during the injection lands before the mark: the timeline still says when it went in
        pc.mark("t_inject", pc.clock.from_mono(fault.injected_at), fault.describe())
    if pc.ctx.shadow is not None:
        from gameday.shadow.debrief import debrief, newest_automated

        if pc.ctx.shadow.trainee_log is not None:  # what the trainee did after the mitigation too
            pc.ctx.shadow.trainee_log.gather(force=True)
        rec.shadow = debrief(rec, newest_automated(pc.ctx.reports / "drills", pc.scenario.id))
    taken = pc.watchdog_took_over()
    if taken is not None and Verdict(rec.verdict).judged:
        was = f"; the verdict would have read {rec.verdict}" + (f": {rec.reasons[0]}" if rec.reasons else "")
        rec.verdict, rec.reasons = Verdict.ERROR, [taken + was]
    elif taken is not None and not any(taken in r for r in rec.reasons):
        rec.reasons.append(taken)
    cut: Interrupted | None = None
    try:
        with pc.phase_of("verdict"):
            if pc.load is not None:
                rec.load = load_summary(pc.load, pc.ctx.reports / "load" / pc.scenario.id
                                        / f"{rec.file_stem()}-window.csv")
            rec.notifications = [n.as_dict() | {"t": pc.watch.arrival(n)} for n in pc.watch.notifications(0.0)]
            record_refused(pc)
            gather_evidence(pc)
    except KeyboardInterrupt as exc:  # its evidence is incomplete: a drill whose verdict was cut never passes
        cut = interruption_of(exc)
        if rec.verdict == Verdict.PASS:
            rec.verdict, rec.reasons = Verdict.ERROR, [interruption(pc, cut)]
        elif not interrupted:
            rec.reasons.append(f"{interruption(pc, cut)}: the evidence is incomplete")
    rec.cautions += [f"a listener failed and the drill went on: {f}" for f in pc.events.failures()]
    with signals_deferred("the drill's journal"):  # short and bounded: the record is whole or not written
        rec.write(pc.ctx.reports / "drills")
        pc.events.finished.fire(record=rec)
    if cut is not None:
        raise cut


def record_refused(pc: PhaseContext) -> None:
    """Pages that did not count, in the journal: POSTs the receiver refused during the drill (no secret), and
    pages with the secret that Prometheus and Alertmanager did not back."""
    rec = pc.record
    rejections = optional(pc.target.receiver, "rejections")  # a plugin's receiver may keep none
    refused = [r.as_dict() | {"t": pc.clock.from_mono(r.arrived), "status": "refused by the receiver"}
               for r in (rejections(since=pc.clock.anchor_mono) if rejections is not None else [])]
    rec.pages_refused = refused + list(pc.pages.refused)
    if rec.pages_refused:
        rec.cautions.append(f"{len(rec.pages_refused)} page(s) refused as not from the run's Alertmanager "
                            f"or not backed by its alerts (first: {rec.pages_refused[0].get('why')}); none "
                            "counted toward the verdict")
