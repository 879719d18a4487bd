"""The drill's named events: the one source the journal, console and report read from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("gameday.events")

PHASES = ("preflight", "steady-state", "inject", "detect", "recover", "resolve", "verdict")


class EventHook:
    """Listeners for one event; ``fire`` calls each with keyword arguments.

    A listener that raises is logged and dropped from what it was told, never from the drill: the next
    listener is still called, and the drill (its fault's revert, its verdict, its journal) goes on. The
    failures are kept in ``failures`` for the record. A signal (``KeyboardInterrupt``) is not a listener's
    failure: it goes on to the drill, which reverts the fault as on any interruption.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[..., Any]] = []
        self.failures: list[str] = []

    def add_listener(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self._listeners.append(fn)
        return fn

    def fire(self, **kwargs: Any) -> None:
        for fn in list(self._listeners):
            try:
                fn(**kwargs)
            except Exception as exc:  # noqa: BLE001 - a report that breaks must not break the drill
                what = f"{getattr(fn, '__qualname__', fn)!s} failed on {self.name}: {type(exc).__name__}: {exc}"
                self.failures.append(what[:300])
                log.warning("gameday: a listener %s", what, exc_info=True)


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

    def failures(self) -> list[str]:
        """What listeners failed on, over every event of the drill."""
        return [f for hook in self._hooks() for f in hook.failures]

    def _hooks(self) -> list[EventHook]:
        return [self.phase_started, self.phase_ended, self.marked, self.progress, self.noted, self.finished]
