"""Signals: a process that runs until one asks it to stop, and the short stretches that hold one back."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any


class Interrupted(KeyboardInterrupt):
    """A drill cut short by a signal: Ctrl-C (SIGINT) or SIGTERM, which takes the same path. It is a
    ``KeyboardInterrupt``, so everything that reverts on Ctrl-C reverts on it; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        super().__init__(f"signal {self.signum}")

    @property
    def how(self) -> str:
        return "Ctrl-C" if self.signum == signal.SIGINT else f"signal {self.signum}"


def interruption_of(exc: BaseException) -> Interrupted:
    """A plain ``KeyboardInterrupt`` is Ctrl-C's."""
    return exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)


class SignalStop:
    """A process that runs until a signal asks it to stop (the warm lab, ``python -m gameday.lab``).

    The handler only sets a flag, and ``wait`` sleeps in short steps: no lock is involved. A
    ``threading.Event`` set from a handler deadlocks when the signal lands while the same thread,
    inside ``Event.wait``, holds the Event's own lock: the handler's ``set`` waits for that lock
    forever (a warm lab hung that way on ``gameday lab down``).
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT), step: float = 0.1) -> None:
        self.signum: int | None = None
        self.step = step
        for sig in signals:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a signal came or ``timeout`` seconds passed; True once a signal came."""
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.signum is None:
            left = self.step if end is None else min(self.step, end - time.monotonic())
            if left <= 0:
                break
            time.sleep(left)
        return self.signum is not None


@contextlib.contextmanager
def signals_deferred(what: str) -> Any:
    """Hold SIGINT and SIGTERM until the block ends, then act on them as they would have acted.

    For the engine calls that apply or revert a fault: an interruption inside one of them can leave
    the call half made (a container created but not started, an HTTP connection to the engine in the
    middle of a response, which the next call would read as its own answer). The block is bounded by
    its own timeouts; a signal that arrives meanwhile is told it will be acted on when it ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)
        say(f"\ngameday: signal {signum} held until {what} completes\n")

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])


def say(text: str) -> None:
    """A line for the person at the terminal, past pytest's capture (which holds stderr until the test ends);
    file descriptor 2 where there is no terminal (CI). Called from signal handlers: it writes to the
    descriptor, never through ``sys.stderr``, whose buffer's lock the interrupted code may hold."""

    try:
        with open("/dev/tty", "w") as tty:
            tty.write(text)
    except OSError:
        with contextlib.suppress(OSError):
            os.write(2, text.encode(errors="replace"))

