"""Stop conditions: checked while a fault is in, they end the drill at once when the blast radius is exceeded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gameday.clock import Clock
from gameday.durations import human
from gameday.errors import DrillAborted


@dataclass
class StopConditions:
    """Asks Prometheus, every ``every`` seconds, whether any condition holds; raises ``DrillAborted`` if one does."""

    conditions: list[Any]
    """``gameday.scenario.StopCondition`` items: the scenario's and the global ones."""
    prometheus: Any
    clock: Clock
    every: float = 0.5
    _last: float = float("-inf")

    def check(self, phase: str) -> None:
        now = self.clock.now()
        if not self.conditions or now - self._last < self.every:
            return
        self._last = now
        for cond in self.conditions:
            expr = cond.expr or f'ALERTS{{alertname="{cond.alert}", alertstate="firing"}}'
            if self.prometheus.query(expr):
                raise DrillAborted(f"stop condition held during {phase} at {human(now)}: {cond.describe()}")
