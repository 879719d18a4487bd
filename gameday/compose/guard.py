"""A stack's guard: brings a Compose stack down when the run that brought it up dies without doing so.

``ComposeStack.start`` starts it in a session of its own beside a stack the run created (never one kept with
``--compose-keep``); ``stop`` ends it once the run has brought the stack down itself. Should the run be killed
outright (SIGKILL, the OOM killer), the guard sees its pid gone, takes the project's lock (unless another run has
already taken it, and with it the stack) and runs ``docker compose down``. A fault's own watchdog still reverts
the fault first; the guard then removes what is left.

Run by the harness: python -m gameday.compose.guard --pid PID --project NAME [--ledger FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from gameday.errors import HarnessError
from gameday.faults.ledger import Ledger, alive
from gameday.lifecycle import TargetLock


def guard(pid: int, project: str, compose: list[str], ledger: Path | None = None, poll: float = 0.5,
          faults_within: float = 120.0) -> str:
    """Wait for ``pid`` to die, then for its faults' watchdogs to close their ledger entries (at most
    ``faults_within`` seconds), then bring ``project`` down; what happened, in a few words."""
    while alive(pid):
        time.sleep(poll)
    deadline = time.monotonic() + faults_within
    while ledger is not None and time.monotonic() < deadline and any(
            e.get("pid") == pid for e in Ledger(ledger).pending()):
        time.sleep(poll)
    try:
        lock = TargetLock(f"compose-{project}").acquire()
    except HarnessError:
        return f"run {pid} ended; another run holds {project} now: left to it"
    try:
        for _ in range(10):  # an engine that is restarting answers again within a minute or so
            res = subprocess.run([*compose, "--project-name", project, "down", "--volumes", "--remove-orphans",
                                  "--timeout", "5"], capture_output=True, text=True, timeout=120,
                                 stdin=subprocess.DEVNULL)
            if res.returncode == 0:
                break
            time.sleep(6)
        said = " ".join((res.stdout + res.stderr).split())[-300:]
        return f"run {pid} ended with {project} up: docker compose down exit {res.returncode} {said}"
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    from gameday.compose.stack import compose_binary

    parser = argparse.ArgumentParser(prog="python -m gameday.compose.guard", description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--ledger", type=Path, default=None, help="the run's fault ledger: its faults go first")
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args(argv)
    print(guard(args.pid, args.project, compose_binary(), args.ledger, args.poll), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
