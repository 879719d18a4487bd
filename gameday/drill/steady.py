"""The steady-state phase: before the fault, a clean window under the baseline load: no watched alert firing, no
earlier incident's Alertmanager group for the page to join, quiet alerts' young windows filled, and the page's
expected time worked out from the history each rate window holds."""

from __future__ import annotations

import time
from typing import Any

from gameday.core.durations import human
from gameday.core.errors import DrillFailed, HarnessError, StackUnreachable
from gameday.drill.context import PhaseContext
from gameday.pipeline.detection import Window, estimate, windows
from gameday.pipeline.groups import LINGER, GroupState, group_state
from gameday.pipeline.youngwindows import quiet_wait, young_page
from gameday.target.protocol import optional


def read_groups(pc: PhaseContext) -> dict[str, GroupState]:
    """The Alertmanager group each expected alert's page would meet now."""
    assert pc.pre is not None
    am = pc.target.alertmanager
    active, total, now = am.groups(), am.aggregation_groups(), pc.clock.now()
    return {e.alert: group_state(e.alert, e.receiver, pc.pre.group_labels[e.alert], active, total,
                                 pc.watch.group_pages(e.receiver, pc.target.alerting_epoch), now)
            for e in pc.scenario.expect}


def settle_groups(pc: PhaseContext, when: str) -> None:
    """Record the group case and the floor and ceiling that go with it."""
    assert pc.pre is not None
    pc.groups = read_groups(pc)
    pc.timing = {a: t.with_group(pc.groups[a].joins_group) for a, t in pc.pre.timing.items()}
    rec = pc.record
    for alert, state in pc.groups.items():
        rec.alert_groups.setdefault(alert, {})[when] = state.as_dict()
        rec.floors[f"notify_floor:{alert}"] = pc.timing[alert].notify_floor
        rec.floors[f"notify_ceiling:{alert}"] = pc.timing[alert].notify_ceiling


def expect_detection(pc: PhaseContext) -> None:
    """Where the rule's shape allows it, the page's expected time at this fault's intensity (``detection``),
    from the history each window holds now; recorded beside the floor, and said when it is past the SLA."""
    assert pc.pre is not None
    for exp in pc.scenario.expect:
        conds = pc.pre.conditions.get(exp.alert)
        if not conds or pc.pre.intensity is None:
            continue
        timing = pc.timing[exp.alert]
        try:
            held = windows(pc.target.prometheus, conds, timing.scrape_interval)
        except StackUnreachable:
            held = {}
        est = estimate(conds, pc.pre.intensity, held)
        if est.lag is None:
            continue
        expected = est.lag + timing.notify_floor
        pc.record.floors[f"expected_ttn:{exp.alert}"] = expected
        sla = pc.scaled.sla[exp.alert]
        late = f"; that is past its SLA of {human(sla)}: expect a late page" if expected > sla else ""
        pc.note(f"{exp.alert}: page expected about {human(expected)} after the fault "
                f"({est.why}, then for and group_wait){late}")
        _young_windows(pc, exp.alert, conds, held, expected)


def _young_windows(pc: PhaseContext, alert: str, conds: list[Any], held: dict[Any, Window], expected: float) -> None:
    """An expected alert's young windows: the journal and the summary say what the drill proves
    (``youngwindows``)."""
    assert pc.pre is not None and pc.pre.intensity is not None
    young = young_page(alert, conds, held, pc.pre.intensity, expected, pc.timing[alert].notify_floor)
    if young is not None:
        pc.record.floors[f"expected_ttn_warm:{alert}"] = young[0]
        pc.note(young[1])


def _warm_quiet_windows(pc: PhaseContext) -> None:
    """Before the fault, a quiet alert's young window fills with healthy traffic (``youngwindows``)."""
    assert pc.pre is not None
    quiet = {c: q for q in pc.scenario.quiet for c in (pc.pre.conditions.get(q) or []) if c.job is not None}
    if not quiet or not pc.pre.timing:
        return
    scrape = next(iter(pc.pre.timing.values())).scrape_interval
    wait = quiet_wait(quiet, windows(pc.target.prometheus, list(quiet), scrape), scrape, max(pc.scaled.sla.values()))
    if wait.note:
        pc.note(wait.note)
    start = pc.clock.now()
    while (elapsed := pc.clock.now() - start) < wait.seconds:
        assert wait.condition is not None
        pc.progress(f"{wait.alert}'s {human(wait.condition.window)} window filling with healthy traffic",
                    deadline=wait.seconds, started=start)
        time.sleep(min(0.25, wait.seconds - elapsed))


def _lingering(pc: PhaseContext) -> list[GroupState]:
    if pc.scenario.alert_group == "repeat":
        return []
    return [g for g in read_groups(pc).values() if g.joins_group]


def _clean_slate(pc: PhaseContext, lingering: list[GroupState]) -> None:
    """Make this page a first incident's: no group of an earlier incident may be there for it to join.

    Where the harness owns the monitoring stack it restarts Prometheus and Alertmanager, which
    forget the earlier incident; elsewhere it waits until the earlier group can no longer exist.
    """
    names = ", ".join(g.alert for g in lingering)
    reset = optional(pc.target, "reset_alerting") if pc.target.owns_monitoring else None
    if reset is not None:
        pc.progress(f"restarting Prometheus and Alertmanager: they still hold the last {names} incident "
                    f"({lingering[0].detail})")
        t0 = pc.clock.now()
        reset()
        pc.mark("t_alerting_reset", pc.clock.now(), f"Prometheus and Alertmanager restarted in "
                                                    f"{human(pc.clock.now() - t0)} to forget the last "
                                                    f"{names} incident")
        if left := _lingering(pc):
            raise HarnessError(f"steady state not reached: after a restart Alertmanager still holds the group "
                               f"of {left[0].alert} ({left[0].detail})")
        return
    started = pc.clock.now()
    while left := _lingering(pc):
        clear_by = max(g.clear_by or pc.clock.now() + LINGER for g in left)
        if pc.clock.now() - started > LINGER:
            raise HarnessError(f"steady state not reached: Alertmanager may still hold the group of "
                               f"{left[0].alert} after {human(LINGER)} ({left[0].detail})")
        pc.progress(f"waiting until Alertmanager can hold no group of the last {names} incident (Prometheus "
                    "resends a resolved alert for 15 min; not time-scaled)", deadline=clear_by - started,
                    started=started)
        time.sleep(1.0)


def steady_state(pc: PhaseContext) -> None:
    """Hold a clean window: no watched alert firing, no earlier incident's group, predictions answered.

    An alert still firing from an earlier drill is given up to the MTTR goal to clear (the window
    starts again once it has); after that the lab is not healthy: ERROR. Then, unless the scenario
    drills a repeat on purpose, an earlier incident's Alertmanager group is cleared (see
    ``_clean_slate``) and the window is held once more.
    """
    _warm_quiet_windows(pc)
    _hold_window(pc)
    if lingering := _lingering(pc):  # one read of Alertmanager's groups, handed on
        _clean_slate(pc, lingering)
        _hold_window(pc)
    if not pc.sli_healthy():
        raise HarnessError("steady state not reached: the gateway does not answer predictions before the fault")


def _clears_within(pc: PhaseContext, alert: str) -> float:
    """How long an alert of an earlier incident may rightly stay firing once its cause is gone: its shortest
    rate window must first let go of the earlier errors (the MTTR goal when no window is known)."""
    assert pc.pre is not None
    conds, rule = pc.pre.conditions.get(alert), pc.pre.rules.get(alert)
    if not conds:
        return pc.scaled.mttr_goal
    return max(pc.scaled.mttr_goal, min(c.window for c in conds) + (rule.group_interval_s if rule else 0.0))


def _hold_window(pc: PhaseContext) -> None:
    watched = [e.alert for e in pc.scenario.expect] + list(pc.scenario.quiet)
    window = pc.scaled.steady_state
    first = start = pc.clock.now()
    poll = max(pc.ctx.ask, window / 50)  # each look is an HTTP request: a clean window needs no finer look
    while (elapsed := pc.clock.now() - start) < window:
        firing = sorted({a.name for a in pc.watch.prometheus.alerts() if a.name in watched and a.state == "firing"})
        longest = max((_clears_within(pc, a) for a in firing), default=pc.scaled.mttr_goal)
        settle = window + longest
        if firing and pc.clock.now() - first > settle:
            _fires_unprovoked(pc, firing, settle)
            raise HarnessError(f"steady state not reached: {', '.join(firing)} still firing after "
                               f"{human(settle)}; the lab is not healthy (see reports/lab/logs)")
        if firing:
            start = pc.clock.now()
            why = (f" (its rate window still holds an earlier incident's errors: up to {human(longest)})"
                   if longest > pc.scaled.mttr_goal else "")
            pc.progress(f"waiting for {', '.join(firing)} to clear before the fault{why}", deadline=settle,
                        started=first)
        else:
            pc.progress(f"baseline load, watching {', '.join(watched)}", deadline=window, started=start)
        time.sleep(min(poll, max(window - elapsed, 0.001)))


def _fires_unprovoked(pc: PhaseContext, firing: list[str], settle: float) -> None:
    """FAIL when the alerts kept firing before any fault, while the SLI probe answers, on a stack the harness made
    and only drills use (this run's, or a warm lab), or on a shadow pair whose team's live Prometheus, with the
    rules as they are, holds none of them (``quiet_where_live``): the rule pages under the baseline load alone
    (a threshold or a comparison that holds for a healthy service). On a team's stack, or with the SLI failing
    too, nothing says the rule is to blame: the caller's ERROR stands."""
    harness_made = pc.target.created_by_run or getattr(pc.target, "attached", False)
    live_quiet = optional(pc.target, "quiet_where_live")
    shadowed = not harness_made and live_quiet is not None and live_quiet(firing)
    if not (harness_made or shadowed) or not pc.sli_healthy():
        return
    where = ("on the shadow pair, while the team's own Prometheus, with the rules as they are, held none of them"
             if shadowed else "on a stack the harness made")
    raise DrillFailed(f"steady state: {', '.join(firing)} kept firing for {human(settle)} before any fault, under "
                      f"the baseline load alone, {where}, while its SLI probe answered: the rule fires for a healthy "
                      "service")
