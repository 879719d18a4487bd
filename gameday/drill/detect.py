"""The detect phase: from the fault on, wait for each expected alert's page at its receiver, judge it against the
SLA, and say why a late page was late (the pipeline's floor, its group, failed deliveries)."""

from __future__ import annotations

from assertions.alerts import PageResult, assert_page, late_page_reason, wait_for_page
from gameday.core.errors import DrillFailed, StackUnreachable
from gameday.drill.context import PhaseContext
from gameday.observe.provenance import early_page
from gameday.target.protocol import optional


def detect(pc: PhaseContext, t_inject: float) -> list[PageResult]:
    pages = []
    for exp in pc.scenario.expect:
        sla = pc.scaled.sla[exp.alert]
        timeout = sla + max(pc.ctx.late_page_wait * sla, 1.0)  # a late page told from none

        def tick(r: PageResult, sla: float = sla, alert: str = exp.alert, to: str = exp.receiver) -> None:
            pc.progress(f"{alert} {r.last_state}, waiting for the page at {to}", deadline=sla, started=t_inject)

        # the page carries the alert's own firing time: Prometheus's state is only asked for the diagnosis
        # of a page that never comes, so a few times a second (or per evaluation, when that is slower)
        every = max(pc.ctx.ask, pc.timing[exp.alert].evaluation_interval / 2)
        result = wait_for_page(pc.watch, exp.alert, exp.receiver, t_inject, timeout, pc.ctx.poll, tick,
                               ask_every=every)
        if result.firing_seen is not None:
            pc.mark("t_firing_seen", result.firing_seen, f"{exp.alert} seen firing in Prometheus", exp.alert)
        if result.starts_at is not None:
            pc.mark("t_firing", result.starts_at, exp.alert, exp.alert)
        if result.notified is not None:
            pc.mark("t_notified", result.notified, f"{exp.alert} at {exp.receiver}", exp.alert)
            pc.mark("t_notified_seen", result.notified_seen or result.notified, f"harness saw the {exp.alert} page",
                    exp.alert)
            timing = pc.timing.get(exp.alert)
            # a page sooner than the floor is someone else reaching the receiver; a routed view is read from
            # Alertmanager itself, before its group_wait, so it has no such floor
            delivered = pc.record.pages.get("level", "delivered") == "delivered"
            early = delivered and timing and early_page(result.notified - t_inject, timing.notify_floor,
                                                        timing.evaluation_interval)
            if early:
                pc.record.cautions.append(f"{exp.alert}: {early}")
                pc.note(f"{exp.alert}: {early}")
        why = late_page_reason(result, t_inject, pc.timing.get(exp.alert), pc.groups.get(exp.alert),
                               _failed_since(pc, result, t_inject, sla))
        try:
            assert_page(result, t_inject, sla, why)
        except DrillFailed:
            pc.health.check(pc.phase, force=True)  # a broken stack is ERROR, not a verdict on the alert
            raise
        pages.append(result)
    return pages


def _failed_since(pc: PhaseContext, result: PageResult, t_inject: float, sla: float) -> int | None:
    """For a late page only: Alertmanager's failed notification attempts since the fault."""
    if result.notified is not None and result.notified - t_inject <= sla or pc.deliveries_failed is None:
        return None
    now = failed_deliveries(pc)
    return None if now is None else now - pc.deliveries_failed


def failed_deliveries(pc: PhaseContext) -> int | None:
    read = optional(pc.target.alertmanager, "failed_deliveries")  # a plugin target's may not count them
    try:
        return read() if read is not None else None
    except StackUnreachable:
        return None
