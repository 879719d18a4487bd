"""The recover phase: how a drill's fault ends, by the scenario's ``recovery.mode``.

- ``revert``: the fault holds for its duration, then the harness reverts it;
- ``auto``: the platform heals itself (a restart policy), and the harness watches for the service to answer;
- ``runbook``: the harness runs the runbook's marked mitigation as written (``gameday.scenario.runbook``) and watches
  for the service to answer; the fault stays in until the resolution is judged, so only the runbook can end it.

Each ends with the ``t_mitigated`` mark, or a FAIL saying what did not happen.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from gameday.core.durations import human
from gameday.core.errors import DrillFailed, DrillSkipped, HarnessError, printable
from gameday.drill.context import PhaseContext
from gameday.faults import Fault
from gameday.scenario.runbook import NotForTarget, Step, StepResult, mitigation_steps, run_steps


def recover(pc: PhaseContext, fault: Fault, t_inject: float) -> None:
    sc = pc.scenario
    if pc.ctx.shadow is not None:
        from gameday.shadow.exercise import by_person

        by_person(pc, pc.ctx.shadow, pc.ctx.shadow_timeout or 2 * pc.scaled.mttr_goal)
    elif sc.recovery.mode == "revert":
        hold = pc.scaled.fault_duration or 0.0
        if (left := t_inject + hold - pc.clock.now()) > 0:
            pc.sleep(left, f"holding the fault for {human(hold)}")
        fault.revert()
        pc.stops.stop()
        pc.mark("t_mitigated", pc.clock.now(), f"harness reverted {fault.describe()}")
    elif sc.recovery.mode == "runbook":
        by_runbook(pc)
    else:
        by_platform(pc, t_inject)


def by_platform(pc: PhaseContext, t_inject: float) -> None:
    """The platform heals itself: watch until the service answers again, and take the restart's own time."""
    sc, target = pc.scenario, pc.target
    limit = pc.scaled.mttr_goal + (pc.scaled.fault_duration or 0.0)
    if not _serving_within(pc, limit, f"waiting for {sc.fault.target} to come back by itself"):
        raise DrillFailed(f"{sc.fault.target} did not come back by itself within {human(limit)} (recovery: auto)")
    started = target.last_started(sc.fault.target)
    if started is not None and pc.clock.from_mono(started) > t_inject:
        pc.mark("t_mitigated", pc.clock.from_mono(started),
                    f"{sc.fault.target} restarted by its platform ({target.name})")
    else:
        pc.mark("t_mitigated", pc.clock.now(), f"{sc.fault.target} answering again")


def runbook_steps(pc: PhaseContext) -> list[Step]:
    """The steps a ``recovery: runbook`` drill will run on this target: asked in preflight, before any fault, so
    a runbook with no version for this target is SKIPPED with nothing done."""
    sc = pc.scenario
    try:
        return mitigation_steps(pc.ctx.root / sc.runbook, sc.recovery.mitigation, pc.target.name)
    except NotForTarget as exc:
        raise DrillSkipped(f"{sc.runbook}: {exc}; this drill proves the runbook's commands where they are "
                           "written for") from None
    except ValueError as exc:  # checked when the scenario loaded; the file may have changed since
        raise HarnessError(f"{sc.runbook}: {exc}") from None


def by_runbook(pc: PhaseContext) -> None:
    """Run the runbook's marked mitigation as written; a step that fails, or steps that do not bring the service
    back within the MTTR goal, FAIL the drill naming the runbook's step: the runbook is wrong."""
    sc, target = pc.scenario, pc.target
    name = sc.recovery.mitigation
    steps = runbook_steps(pc)
    env = target.runbook_env()
    limit = pc.scaled.mttr_goal
    began = pc.clock.now()

    def said(result: StepResult) -> None:
        how = "exit 0" if result.ok else ("killed: ran past its time" if result.exit_code is None
                                          else f"exit {result.exit_code}")
        pc.note(f"runbook {sc.runbook} step {result.step.number}: "
                                     f"{printable(result.step.headline(), 100)} ({how}, {human(result.seconds)})")

    pc.progress(f"running runbook mitigation {name!r} ({len(steps)} step(s))")
    results = run_steps(steps, env, pc.ctx.root, max(10.0, limit), said)
    last = results[-1]
    if not last.ok:
        what = "did not finish in time" if last.exit_code is None else f"exited {last.exit_code}"
        output = f": {printable(last.output, 300)}" if last.output else ""
        raise DrillFailed(f"runbook {sc.runbook}, mitigation {name!r}, step {last.step.number} of {len(steps)} "
                          f"({printable(last.step.headline(), 100)}) {what}{output}")
    pc.stops.stop()
    if not _serving_within(pc, max(0.0, began + limit - pc.clock.now()),
                           f"runbook mitigation {name!r} ran: waiting for {sc.fault.target} to serve"):
        raise DrillFailed(f"runbook {sc.runbook}, mitigation {name!r}: all {len(steps)} step(s) ran (exit 0) but "
                          f"{sc.fault.target} was not serving within {human(limit)}: the steps do not mitigate "
                          f"{pc.fault.describe()}")
    pc.mark("t_mitigated", pc.clock.now(), f"runbook {sc.runbook} mitigation {name!r} ({len(steps)} step(s))")


@contextlib.contextmanager
def after_runbook(scenario: Any, shadow: bool = False) -> Iterator[None]:
    """A resolution that fails after a runbook's mitigation (or a trainee's) says so: it did not end the incident."""
    try:
        yield
    except DrillFailed as exc:
        if shadow:
            raise DrillFailed(f"{exc} (after the trainee's mitigation)") from None
        raise DrillFailed(f"{exc} (after the runbook's mitigation {scenario.recovery.mitigation!r} of "
                          f"{scenario.runbook} ran)") from None


def _serving_within(pc: PhaseContext, limit: float, note: str) -> bool:
    """Poll until the fault's service runs and the SLI answers, for at most ``limit`` seconds of the drill clock.
    Each look is an HTTP probe, so the poll is ``ask``; a mitigation's time comes from the first look that sees it."""
    sc, target = pc.scenario, pc.target
    start = pc.clock.now()
    while True:
        if target.is_running(sc.fault.target) and pc.sli_healthy():
            return True
        if pc.clock.now() - start >= limit:
            return False
        pc.progress(note, deadline=limit, started=start)
        time.sleep(pc.ctx.ask)
