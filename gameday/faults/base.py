"""The fault contract: a context manager with ``inject()`` and an idempotent ``revert()``."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any

from gameday.core.errors import InjectionError
from gameday.core.processes import CleanOnFailure
from gameday.core.signals import signals_deferred
from gameday.faults.ledger import Ledger


def wait_until(pred: Any, timeout: float, poll: float = 0.05) -> bool:
    """Whether ``pred()`` held within ``timeout`` seconds, asked every ``poll``: how a fault confirms it took effect
    and a revert that it is undone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(poll)
    return bool(pred())


class Fault(CleanOnFailure, ABC):
    """Apply one fault and undo it on every exit path, a failed ``inject()`` included."""

    kind = "fault"
    outlives_harness = False
    """True for a fault that stays when the harness dies (a paused container, a sidecar): a watchdog guards it."""
    reverter = "died-with-harness"
    """How the fault is reverted when its harness is gone: a name in ``gameday.faults.revert`` (the engine's own,
    or an entry point of the group ``gameday.reverters`` that the fault's package declares)."""

    def __init__(self, target: str, ledger: Ledger | None = None) -> None:
        self.target = target
        self.ledger = ledger
        self.injected_at: float | None = None
        self._entry: str | None = None
        self._reverted = True
        self.attempted = False
        self._watchdog: Any = None
        """True once ``inject()`` began: the fault may have (partly) taken effect."""
        self.reverted_by: dict[str, Any] = {}
        """Added to the ledger entry: who else can revert the fault if this run dies (a warm lab's control API)."""
        self.watchdog_close: dict[str, Any] | None = None
        """The ledger's record, when the watchdog reverted this fault while the harness was stalled."""

    def detail(self) -> dict[str, Any]:
        """What a later run needs to revert this fault if this run dies."""
        return {}

    def describe(self) -> str:
        return f"{self.kind} {self.target}"

    @abstractmethod
    def _apply(self) -> None:
        """Apply the fault and confirm it took effect, or raise ``InjectionError``."""

    @abstractmethod
    def _undo(self) -> None:
        """Undo the fault; safe to call when it only half applied."""

    def inject(self) -> float:
        """Apply the fault; returns ``time.monotonic()`` at the moment it was applied."""
        if not self._reverted:
            raise InjectionError(f"{self.describe()}: already injected")
        with signals_deferred(f"the injection of {self.describe()}"):  # ledger, watchdog and the fault, whole
            if self.ledger is not None:
                self._entry = self.ledger.opened(self.kind, self.target, {**self.detail(), **self.reverted_by},
                                                 revert=self.reverter)
                if self.outlives_harness and self.ledger.watchdog_bound:
                    from gameday.faults.heartbeat import Watchdog

                    self._watchdog = Watchdog(self.ledger, self._entry, self.ledger.watchdog_bound).start()
            self._reverted = False
            self.attempted = True
            self._apply()
        assert self.injected_at is not None, "a fault must stamp injected_at when it applies"
        return self.injected_at

    def revert(self) -> None:
        """Undo the fault. Idempotent: a second call does nothing."""
        if self._reverted:
            return
        with signals_deferred(f"the revert of {self.describe()}"):  # and its record: a signal cuts neither short
            self.taken_over()
            self._undo()  # also after the watchdog: idempotent, and it checks the target is back
            self._reverted = True
            if self.ledger is not None and self._entry is not None:
                earlier = self.ledger.closed(self._entry)
                if earlier is not None and self.watchdog_close is None:
                    self.watchdog_close = earlier
            if self._watchdog is not None:
                self._watchdog.stop()
                self._watchdog = None

    def taken_over(self) -> dict[str, Any] | None:
        """The watchdog's ledger record, once it reverted this fault behind the harness's back (None otherwise)."""
        if self.watchdog_close is None and self._watchdog is not None:
            self.watchdog_close = self._watchdog.took_over()
        return self.watchdog_close

    @property
    def active(self) -> bool:
        return not self._reverted

    def in_effect(self) -> bool | None:
        """Whether the fault still acts on the target, read from the target itself (someone may have undone it
        by hand, as a trainee does in a shadow exercise); None where this kind cannot tell."""
        return None

    def recovery_steps(self) -> list[tuple[float, str]]:
        """What the platform did about the fault since it went in, as it saw it: ``(time.monotonic(), what)``,
        e.g. a replacement pod scheduled, running, ready (the k8s target's watch); none where it cannot tell."""
        return []

    def start(self) -> float:
        return self.inject()

    def stop(self) -> None:
        self.revert()

    def _stamp(self) -> None:
        self.injected_at = time.monotonic()
