"""Run one runbook step so that nothing it starts outlives it: ``python -m gameday.drill.steprun -- COMMAND``.

This process makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so whatever the step leaves
running (``sleep 100 &``, ``setsid ... &``, a double fork) becomes its child once its own parent is gone. When
``bash`` exits, each process still left is killed, the count is said on stderr, and this process exits with
``bash``'s code: the step is judged by its exit, not by who still holds its output. SIGTERM or SIGINT end the step
and everything it started the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def end_the_rest(timeout: float = 5.0) -> int:
    """Kill every process left under this one (those it adopted included) and reap them; return how many."""
    me, ended = os.getpid(), set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = children(me)
        if not kids:
            break
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            ended.add(pid)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        time.sleep(0.02)
    return len(ended)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--":
        print("usage: python -m gameday.drill.steprun -- COMMAND", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    stopped: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    proc = None
    try:
        proc = subprocess.Popen(["bash", "-eo", "pipefail", "-c", argv[1]], stdin=subprocess.DEVNULL)
        code = proc.wait()
    except KeyboardInterrupt:
        code = 128 + (stopped[0] if stopped else signal.SIGINT)
    left = end_the_rest()
    if proc is not None and proc.returncode is None:  # bash itself was among those ended
        left -= 1
    if left > 0:
        print(f"(gameday ended {left} process(es) the step left running)", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
