"""Stop conditions: checked while a fault is in, they end the drill at once when the blast radius is exceeded.

Prometheus is asked from a thread of its own, every ``every`` seconds: however many conditions there are and
however slowly Prometheus answers, the drill's waits only read what the thread last found, so they are never
starved. Before the fault each condition is asked once (``validate``), so one Prometheus refuses is one line
naming its file, before anything is injected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gameday.core.clock import Clock
from gameday.core.durations import human
from gameday.core.errors import ConfigError, DrillAborted, StackUnreachable


def condition_expr(cond: Any) -> str:
    return cond.expr or f'ALERTS{{alertname="{cond.alert}", alertstate="firing"}}'


def validate(prometheus: Any, conditions: list[tuple[Any, str, str]]) -> None:
    """Ask each ``(condition, file, field)`` once; one Prometheus refuses is a ``ConfigError`` naming them."""
    for cond, source, where in conditions:
        try:
            prometheus.query(condition_expr(cond))
        except StackUnreachable as exc:
            if "HTTP 400" not in str(exc) and "HTTP 422" not in str(exc):
                raise
            raise ConfigError(source, where, f"Prometheus refused the expression: {str(exc).split(': ', 2)[-1]}"
                              ) from None


@dataclass
class StopConditions:
    """Asks Prometheus in the background whether any condition holds; ``check`` raises ``DrillAborted`` once one
    did (or the ``StackUnreachable`` the asking met)."""

    conditions: list[Any]
    """``gameday.scenario.model.StopCondition`` items: the scenario's and the global ones."""
    prometheus: Any
    clock: Clock
    every: float = 0.5
    phase: str = ""
    """The drill's phase when ``check`` last looked: a condition that holds is reported in it, unless ``current``
    says the phase the drill is in now."""
    current: Callable[[], str] | None = None
    """The drill's phase as it runs (the watch looks between the drill's checks, so its last check's may be over)."""
    _found: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> StopConditions:
        if self.conditions and self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="stop-conditions", daemon=True)
            self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set() and self._found is None:
            for cond in list(self.conditions):
                if self._stop.is_set():
                    return
                try:
                    held = bool(self.prometheus.query(condition_expr(cond)))
                except StackUnreachable as exc:
                    self._found = exc
                    return
                if held:
                    phase = self.current() if self.current is not None else self.phase
                    self._found = DrillAborted(f"stop condition held during {phase} at "
                                               f"{human(self.clock.now())}: {cond.describe()}")
                    return
            self._stop.wait(self.every)

    def check(self, phase: str) -> None:
        """Raise what the watch found (a condition that held, or Prometheus failing); costs no request."""
        self.phase = phase
        found = self._found
        if found is None or not self.conditions:
            return
        if isinstance(found, DrillAborted):
            raise DrillAborted(str(found))
        raise StackUnreachable(str(found))

    def stop(self) -> None:
        """The fault is out: the blast radius is no longer the drill's to guard."""
        self.conditions = []
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
