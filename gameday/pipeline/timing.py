"""Timings of a drill (TTD, TTN, MTTR) and the alert pipeline's floor and ceiling."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Timings:
    """Durations computed from the marks of one drill, all on the drill's monotonic clock."""

    ttd: float | None
    """t_firing - t_inject"""
    ttn: float | None
    """t_notified - t_inject: the page; the detection SLA applies to this"""
    mttr: float | None
    """t_resolved - t_notified: page to resolution"""
    inject_to_resolved: float | None
    time_to_mitigate: float | None

    @classmethod
    def from_marks(cls, marks: dict[str, float]) -> Timings:
        def diff(a: str, b: str) -> float | None:
            return marks[a] - marks[b] if a in marks and b in marks else None

        return cls(ttd=diff("t_firing", "t_inject"), ttn=diff("t_notified", "t_inject"),
                   mttr=diff("t_resolved", "t_notified"), inject_to_resolved=diff("t_resolved", "t_inject"),
                   time_to_mitigate=diff("t_mitigated", "t_inject"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PipelineTiming:
    """What the rule and the route allow: S scrape, T failing scrape, E evaluation, W expression, for, group_wait."""

    scrape_interval: float
    evaluation_interval: float
    for_: float
    group_wait: float
    group_interval: float
    expression_lag: float = 0.0
    scrape_fail_time: float = 0.0
    joins_group: bool = False
    """The page joins a group Alertmanager still holds: it goes out on that group's next ``group_interval``
    tick, which may come at once or a whole interval later, instead of after ``group_wait``."""

    def _for_evaluations(self) -> float:
        if self.for_ <= 0:
            return 0.0
        return math.ceil(round(self.for_ / self.evaluation_interval, 6)) * self.evaluation_interval

    @property
    def firing_floor(self) -> float:
        return self.expression_lag + self._for_evaluations()

    @property
    def firing_ceiling(self) -> float:
        return (self.scrape_interval + self.scrape_fail_time + self.evaluation_interval + self.expression_lag
                + self._for_evaluations())

    @property
    def notify_floor(self) -> float:
        return self.firing_floor + (0.0 if self.joins_group else self.group_wait)

    @property
    def notify_ceiling(self) -> float:
        """A new group waits ``group_wait``; a joined group up to one ``group_interval`` (or ``group_wait``,
        should the maintenance tick remove the old group just before the alert arrives)."""
        wait = max(self.group_wait, self.group_interval) if self.joins_group else self.group_wait
        return self.firing_ceiling + wait

    def with_group(self, joins_group: bool) -> PipelineTiming:
        return replace(self, joins_group=joins_group)

    def explain(self) -> str:
        then = (f"then up to group_interval {self.group_interval:g}s of a group that lingers" if self.joins_group
                else f"+ group_wait {self.group_wait:g}s")
        return (f"for {self.for_:g}s rounded up to evaluations every {self.evaluation_interval:g}s, "
                f"+ expression lag {self.expression_lag:g}s {then}")
