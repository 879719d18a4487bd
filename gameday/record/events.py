"""The drill's named events: the one source the journal, console and report read from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PHASES = ("preflight", "steady-state", "inject", "detect", "recover", "resolve", "verdict")


class EventHook:
    """Listeners for one event; ``fire`` calls each with keyword arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[..., Any]] = []

    def add_listener(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self._listeners.append(fn)
        return fn

    def fire(self, **kwargs: Any) -> None:
        for fn in list(self._listeners):
            fn(**kwargs)


class DrillEvents:
    """Events of one drill.

    - ``phase_started(phase, t)`` and ``phase_ended(phase, t, error)``
    - ``marked(name, t, detail)``: a timeline mark (``t_inject``, ``t_firing``, ``t_notified`` ...)
    - ``progress(phase, t, deadline, note)``: a heartbeat while waiting
    - ``noted(phase, t, note)``: a fact the drill established that a reader should see (the error-budget gate)
    - ``finished(record)``: the journal, verdict included
    """

    def __init__(self) -> None:
        self.phase_started = EventHook("phase_started")
        self.phase_ended = EventHook("phase_ended")
        self.marked = EventHook("marked")
        self.progress = EventHook("progress")
        self.noted = EventHook("noted")
        self.finished = EventHook("finished")

    def subscribe(self, listener: object) -> None:
        """Register every ``on_<event>`` method of ``listener``."""
        for hook in self._hooks():
            fn = getattr(listener, f"on_{hook.name}", None)
            if fn is not None:
                hook.add_listener(fn)

    def _hooks(self) -> list[EventHook]:
        return [self.phase_started, self.phase_ended, self.marked, self.progress, self.noted, self.finished]
