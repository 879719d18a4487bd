"""The resolve phase: each awaited page's resolution reaches its receiver while the service answers, within the
MTTR goal; the quiet alerts stayed quiet from the fault to here."""

from __future__ import annotations

from assertions.alerts import PageResult, assert_quiet
from assertions.mttr import Resolution, assert_mttr, wait_for_resolution
from gameday.core.errors import DrillFailed
from gameday.drill.context import PhaseContext


def resolve(pc: PhaseContext, pages: list[PageResult]) -> None:
    goal = pc.scaled.mttr_goal
    awaited = {e.alert for e in pc.scenario.expect if e.resolve}
    for page in pages:
        assert page.notified is not None
        if page.alert not in awaited:
            pc.note(f"{page.alert}: its resolution is not awaited (resolve: false)")
            continue

        def tick(r: Resolution, page: PageResult = page) -> None:
            pc.progress(f"waiting for {page.alert} to resolve at {page.receiver}", deadline=goal,
                        started=page.notified)

        res = wait_for_resolution(pc.watch, page.alert, page.receiver, page.fingerprint, page.notified,
                                  goal * 1.5, pc.sli_healthy, pc.ctx.ask, tick)
        if res.resolved is not None:
            pc.mark("t_resolved", res.resolved, f"{page.alert} at {page.receiver}, service healthy", page.alert)
        try:
            assert_mttr(page.alert, res, page.notified, goal)
        except DrillFailed:
            pc.health.check(pc.phase, force=True)
            raise
    assert_quiet(pc.watch, pc.scenario.quiet, 0.0)
