"""The harness's side of the watchdog: start it beside a fault that outlives the harness, and keep it fed.

The watchdog itself runs as ``python -m gameday.faults.watchdog`` in a session of its own (see that module).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from typing import Any

from gameday.faults.ledger import Ledger


class Watchdog:
    """The harness's side: start the watchdog process and keep its heartbeat file fresh."""

    def __init__(self, ledger: Ledger, entry_id: str, bound: float) -> None:
        self.ledger, self.entry_id, self.bound = ledger, entry_id, bound
        self.heartbeat = ledger.path.parent / "watchdog" / f"{entry_id}.beat"
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._beat, name=f"watchdog-{entry_id}", daemon=True)

    def start(self) -> Watchdog:
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        self.heartbeat.touch()
        log = (self.heartbeat.parent / f"{self.entry_id}.log").open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gameday.faults.watchdog", "--ledger", str(self.ledger.path),
             "--entry", self.entry_id,
             "--heartbeat", str(self.heartbeat), "--bound", f"{self.bound:g}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)  # outlives the harness
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(OSError):
                os.utime(self.heartbeat)

    def took_over(self) -> dict[str, Any] | None:
        """The ledger's close, when the watchdog reverted the fault because the heartbeats stopped (the harness was
        stalled: SIGSTOP, a frozen host); None while the harness holds the fault. The watchdog removes the heartbeat
        file when it acts, so only then is the ledger read."""
        if self._stop.is_set() or self.heartbeat.exists():
            return None
        close = self.ledger.close_of(self.entry_id)
        return close if close is not None and close.get("pid") != os.getpid() else None

    def stop(self) -> None:
        """The fault was reverted by the harness: end the heartbeats and the watchdog."""
        self._stop.set()
        self.heartbeat.unlink(missing_ok=True)
        if self._proc is not None:
            try:
                self._proc.wait(3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
