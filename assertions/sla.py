"""Detection SLA: feasible before the drill, met after it."""

from __future__ import annotations

from gameday.durations import human
from gameday.errors import DrillFailed
from gameday.timing import PipelineTiming


def assert_feasible(alert: str, sla: float, timing: PipelineTiming) -> None:
    """Raise ``DrillFailed`` before any fault when the SLA lies below the pipeline's floor."""
    if sla < timing.notify_floor:
        raise DrillFailed(f"preflight: the SLA of {human(sla)} for {alert} is below the pipeline's floor of "
                          f"{human(timing.notify_floor)} ({timing.explain()}); it can never pass")


def assert_within_sla(alert: str, ttn: float, sla: float, receiver: str = "") -> None:
    """Raise ``DrillFailed`` when the page came after the SLA."""
    if ttn > sla:
        paged = f"paged {receiver}" if receiver else "paged"
        raise DrillFailed(f"{alert} {paged} after {human(ttn)}, beyond its SLA of {human(sla)}")
