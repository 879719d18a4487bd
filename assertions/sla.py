"""Detection SLA: feasible before the drill, met after it."""

from __future__ import annotations

from gameday.core.durations import human
from gameday.core.errors import DrillFailed
from gameday.pipeline.timing import PipelineTiming


def assert_feasible(alert: str, sla: float, timing: PipelineTiming, repeat: bool = False) -> None:
    """Raise ``DrillFailed`` before any fault when the SLA lies below the pipeline's floor.

    A repeat incident (``alert_group: repeat``) is held to the ceiling of a page that joins a lingering
    group: below it, the verdict would depend on where the group's ``group_interval`` tick happens to fall.
    """
    if sla < timing.notify_floor:
        raise DrillFailed(f"preflight: the SLA of {human(sla)} for {alert} is below the pipeline's floor of "
                          f"{human(timing.notify_floor)} ({timing.explain()}); it can never pass")
    if repeat:
        joined = timing.with_group(True)
        if sla < joined.notify_ceiling:
            raise DrillFailed(f"preflight: the SLA of {human(sla)} for {alert} is below the ceiling of a repeat "
                              f"incident, {human(joined.notify_ceiling)} ({joined.explain()}); it would pass or "
                              f"fail by chance: raise the SLA or shorten the route's group_interval")


def assert_within_sla(alert: str, ttn: float, sla: float, receiver: str = "", why: str = "") -> None:
    """Raise ``DrillFailed`` when the page came after the SLA; ``why`` explains where the time went."""
    if ttn > sla:
        paged = f"paged {receiver}" if receiver else "paged"
        raise DrillFailed(f"{alert} {paged} after {human(ttn)}, beyond its SLA of {human(sla)}"
                          + (f": {why}" if why else ""))
