"""The monitoring stack's own health during a drill: a failure there is ERROR, never a verdict on the alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gameday.core.clock import Clock
from gameday.core.durations import human
from gameday.core.errors import StackUnreachable


@dataclass
class StackHealth:
    """Checks that Prometheus and Alertmanager keep answering, and are the same processes, while a drill waits.

    A component that stops answering is reported within ``every`` plus its API timeout (2s); one that
    restarted (a new start time) has lost its alert state, so what the drill sees afterwards says nothing
    about the alert either.
    """

    components: dict[str, Any]
    """name -> a Prometheus or Alertmanager API client"""
    clock: Clock
    every: float = 1.0
    started: dict[str, float] = field(default_factory=dict)
    _last: float = float("-inf")

    def baseline(self) -> None:
        """Remember each component's start time; checks compare against it."""
        self.started = {name: api.started() for name, api in self.components.items()}
        self._last = self.clock.now()

    def check(self, phase: str, force: bool = False) -> None:
        """Raise ``StackUnreachable`` naming the component if it stopped answering or restarted."""
        now = self.clock.now()
        if not self.started or (not force and now - self._last < self.every):
            return
        self._last = now
        for name, api in self.components.items():
            try:
                started = api.started()
            except StackUnreachable as exc:
                raise StackUnreachable(f"{name} stopped answering during {phase} (at {human(now)} on the drill "
                                       f"clock): {exc}; this says nothing about the alert") from None
            if abs(started - self.started[name]) > 0.5:
                raise StackUnreachable(f"{name} restarted during {phase} (it started again at "
                                       f"{human(self.clock.from_wall(started))} on the drill clock) and lost its "
                                       "alert state; this says nothing about the alert")
