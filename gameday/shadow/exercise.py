"""One shadow exercise: the pager readied for it (``attach``), the recover phase a person handles while the
harness watches, hints and escalates (``by_person``), and the acknowledgement the trainee owes
(``assert_acknowledged``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.core.durations import human
from gameday.core.errors import DrillFailed
from gameday.report.debrief import debrief_lines
from gameday.shadow import ACK_GOALS, ESCALATION, HINT_AT, HINT_SECTIONS
from gameday.shadow.pager import Pager, ShadowState, announce
from gameday.target.protocol import optional

if TYPE_CHECKING:  # the drill imports this module: the phase context is a type here, not an import
    from gameday.drill.context import PhaseContext


def runbook_sections(path: Path) -> list[str]:
    """The runbook's ``##`` headings that a hint can point at, in the order of ``HINT_SECTIONS``."""
    try:
        heads = [line[3:].strip() for line in path.read_text(errors="replace").splitlines() if line.startswith("## ")]
    except OSError:
        return []
    return [next(h for h in heads if h.startswith(name)) for name in HINT_SECTIONS
            if any(h.startswith(name) for h in heads)]


class TraineeLog:
    """What the trainee did, onto the drill's timeline: the pager's own record (buttons, ``gameday do``) and what the
    target shows (``trainee_actions``: the lab's control calls, the engine's container events), each once, at the
    time it happened. Gathered while the harness waits, and once more at the end of the exercise."""

    def __init__(self, drill: PhaseContext, pager: Pager, since: float) -> None:
        self.drill, self.pager, self.since = drill, pager, since
        self.actions = optional(drill.target, "trainee_actions")
        self.seen_log = 0
        self.seen_actions: set[tuple[float, str]] = set()
        self.asked = float("-inf")

    def gather(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.actions is not None and (force or now - self.asked >= 1.0):  # an engine call: once a second
            self.asked = now
            for t, what in self.actions(self.since):
                if (t, what) not in self.seen_actions:
                    self.seen_actions.add((t, what))
                    self.pager.trainee(what, at=t)
        with self.pager.lock:
            fresh = self.pager.state.log[self.seen_log:]
            self.seen_log = len(self.pager.state.log)
        for h in fresh:
            if h.who == "trainee":
                self.drill.events.noted.fire(phase=self.drill.phase, t=self.drill.clock.from_mono(h.t),
                                             note=f"shadow: the trainee {h.what}")


def by_person(drill: PhaseContext, pager: Pager, safety: float) -> None:
    """The recover phase of a shadow exercise: the trainee mitigates; the harness watches, hints, escalates, and
    after ``safety`` seconds (drill clock) from the page reverts the fault itself and FAILs the exercise."""
    sc, target, fault = drill.scenario, drill.target, drill.fault
    page_t = drill.record.marks["t_notified"]
    scale = drill.ctx.time_scale
    ack_goal = ACK_GOALS.get(sc.priority, 300.0) / scale
    goal = drill.scaled.mttr_goal
    hints = list(zip([page_t + share * goal for share in HINT_AT],
                     runbook_sections(drill.ctx.root / sc.runbook), strict=False))
    log = pager.trainee_log = TraineeLog(drill, pager, drill.clock.to_mono(page_t))
    escalated = False
    in_effect_was: bool | None = True

    def note(what: str) -> None:  # on the pager, and on the terminal and the timeline as the drill's note
        pager.harness(what)
        drill.events.noted.fire(phase=drill.phase, t=drill.clock.now(), note=f"shadow: {what}")

    while True:
        now = drill.clock.now()
        log.gather()
        with pager.lock:
            acked = pager.state.acked
        if acked is not None and "t_acked" not in drill.record.marks:
            drill.mark("t_acked", drill.clock.from_mono(acked), "the trainee acknowledged the page")
        if acked is None and not escalated and now - page_t > ack_goal:
            escalated = True
            drill.mark("t_escalated", now, f"no acknowledgement within {human(ack_goal)}")
            note(f"not acknowledged within {human(ack_goal)} ({sc.priority.upper()}): the escalation path would now "
                 f"page {ESCALATION.get(sc.priority, 'the secondary on-call')}")
        while hints and now >= hints[0][0]:
            _, section = hints.pop(0)
            note(f"hint: read the runbook's section '{section}' ({sc.runbook})")
        acting = fault.in_effect() if fault is not None else None
        if acting is False and in_effect_was:
            pager.harness(f"{fault.describe()} no longer acts on {sc.fault.target}")
            drill.events.noted.fire(phase=drill.phase, t=now, note=f"shadow: {fault.describe()} no longer acts "
                                                                   f"on {sc.fault.target}")
        in_effect_was = acting
        if acting is not True and target.is_running(sc.fault.target) and drill.sli_healthy():
            log.gather(force=True)  # what the trainee did up to now, before saying who mitigated
            with pager.lock:
                acted = any(h.who == "trainee" and h.what != "acknowledged the page" for h in pager.state.log)
            # what was seen, not what was hoped: a service its platform brought back was not the trainee's doing
            who = ("the trainee mitigated" if acted else
                   "mitigated with no action of the trainee's seen (its platform, or commands outside `gameday do`)")
            drill.mark("t_mitigated", drill.clock.now(), f"{who}: {sc.fault.target} answers again"
                        + ("" if acting is None else " and the fault no longer acts"))
            pager.harness("mitigated: the service answers again; now the resolved page")
            return
        if now - page_t > safety:
            log.gather(force=True)
            fault.revert()
            drill.mark("t_safety_revert", drill.clock.now(),
                        f"safety timeout: the harness reverted {fault.describe()}")
            note(f"safety timeout of {human(safety)} after the page: the harness reverted {fault.describe()} and "
                 "ends the exercise")
            raise DrillFailed(f"shadow exercise: not mitigated within the safety timeout of {human(safety)} after "
                              f"the page; the harness reverted {fault.describe()}")
        drill.progress("shadow: waiting for the trainee to " + ("mitigate" if acked is not None else "acknowledge"),
                        deadline=safety, started=page_t)
        time.sleep(drill.ctx.ask)


def assert_acknowledged(drill: PhaseContext) -> None:
    """The trainee's first duty: a page not acknowledged within the priority's time FAILs the exercise, however
    the incident ended (its platform may have healed it meanwhile)."""
    marks, scale, prio = drill.record.marks, drill.ctx.time_scale, drill.scenario.priority
    goal = ACK_GOALS.get(prio, 300.0)
    if "t_acked" not in marks:
        raise DrillFailed(f"shadow exercise: the page was never acknowledged ({prio.upper()} acknowledgement time "
                          f"{human(goal)})")
    took = (marks["t_acked"] - marks["t_notified"]) * scale
    if took > goal:
        raise DrillFailed(f"shadow exercise: the page was acknowledged after {human(took)}, beyond the "
                          f"{prio.upper()} acknowledgement time of {human(goal)} (real time)")


def attach(pager: Pager, scenario: Any, target: Any, events: Any, tell: Any) -> Pager:
    """Ready the pager for one exercise: this scenario, the target's addresses for ``gameday do``, and listeners
    that put each page on it (firing, then resolved) and the debrief at the end. ``tell`` writes a terminal line."""
    with pager.lock:
        pager.state = ShadowState(scenario=scenario.id, runbook=scenario.runbook, env=target.runbook_env())
    pager.tell, pager.trainee_log = tell, None

    def marked(name: str, alert: str | None = None, **_: Any) -> None:
        if name not in ("t_notified", "t_resolved") or alert is None:
            return
        status = "firing" if name == "t_notified" else "resolved"
        for note in reversed(target.receiver.received()):
            found = note.alerts_named(alert, status)
            if found:
                announce(pager, found[0], note.receiver, status, scenario.runbook,
                         time.strftime("%H:%M:%S", time.localtime(note.arrived_wall)))
                return

    def finished(record: Any) -> None:
        lines = debrief_lines(record.shadow) if record.shadow else []
        with pager.lock:
            pager.state.over = True
            pager.state.debrief = lines + [f"verdict {record.verdict}" + (f": {record.reasons[0]}"
                                                                          if record.reasons else "")]
        for line in lines:
            tell(f"    {line}")
        tell(f"    pager (debrief): {pager.url}")

    events.marked.add_listener(marked)
    events.finished.add_listener(finished)
    tell(f"  shadow exercise {scenario.id}: you handle this incident. Pager: {pager.url}  (acknowledge there or "
         f"with `gameday ack`; run commands with `gameday do -- CMD`; runbook {scenario.runbook})")
    return pager
