"""Recovery: wait for the resolved page and a healthy service; hold MTTR to its goal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assertions.alerts import Watch
from gameday.core.durations import human
from gameday.core.errors import DrillFailed


@dataclass
class Resolution:
    resolved_page: float | None = None
    """When the resolved notification arrived at the receiver (drill clock)."""
    healthy_seen: float | None = None
    waited: float = 0.0

    @property
    def resolved(self) -> float | None:
        if self.resolved_page is None or self.healthy_seen is None:
            return None
        return max(self.resolved_page, self.healthy_seen)


def wait_for_resolution(watch: Watch, alert: str, receiver: str, fingerprint: str | None, since: float,
                        timeout: float, healthy: Callable[[], bool], poll: float = 0.05,
                        on_poll: Callable[[Resolution], None] | None = None) -> Resolution:
    """Poll until the resolved page for ``alert`` reached ``receiver`` and ``healthy()`` holds."""
    res = Resolution()
    start = watch.clock.now()

    def look() -> bool:
        res.waited = watch.clock.now() - start
        if res.resolved_page is None:
            for note in watch.notifications(since):
                for a in note.alerts_named(alert, "resolved"):
                    if note.receiver == receiver and (fingerprint is None or a.get("fingerprint") == fingerprint) \
                            and watch.refused(note, a, since) is None:
                        res.resolved_page = watch.arrival(note)
                        break
                if res.resolved_page is not None:
                    break
        if res.healthy_seen is None and healthy():
            res.healthy_seen = watch.clock.now()
        if on_poll is not None:
            on_poll(res)
        return res.resolved is not None

    watch.until(look, timeout, poll)
    return res


def assert_mttr(alert: str, res: Resolution, notified: float, goal: float) -> float:
    """Raise ``DrillFailed`` unless the alert resolved within ``goal`` of its page; return the MTTR."""
    if res.resolved is None:
        missing = "no resolved page arrived" if res.resolved_page is None else "the service never became healthy"
        raise DrillFailed(f"{alert} not resolved within {human(res.waited)} of the page: {missing} "
                          f"(MTTR goal {human(goal)})")
    mttr = res.resolved - notified
    if mttr > goal:
        raise DrillFailed(f"{alert} resolved {human(mttr)} after the page, beyond its MTTR goal of {human(goal)}")
    return mttr
