"""Processes the harness starts: cleaned up after their own failed start, dying with their parent, or guarding it."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


class CleanOnFailure:
    """``with x:`` calls ``start()``; if that fails, ``stop()`` runs before the error goes on."""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> Any:
        raise NotImplementedError

    def __enter__(self) -> Any:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Children get SIGKILL if the harness thread that started them dies, so none are left over."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start_guard(module: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m module --pid <this process> args...`` in a session of its own, to clean up after this process
    should it be killed outright (``gameday.compose.guard``, ``gameday.lab.guard``)."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module, "--pid", str(os.getpid()), *args],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_guard(guard: subprocess.Popen[bytes] | None) -> None:
    """This process cleaned up itself: its guard has nothing left to do."""
    if guard is not None:
        guard.kill()
        guard.wait()

