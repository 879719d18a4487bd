"""A stack's guard: brings a Compose stack down when the run that brought it up dies without doing so.

``ComposeStack.start`` starts it in a session of its own beside a stack the run created (never one kept with
``--compose-keep``). Once the run's process has ended, however it ended, the guard waits for the run's faults'
watchdogs to close their ledger entries and for the engine to answer, and if any container of the project is
there (the run was killed outright; or its down met an engine that was restarting, whose restart policy then
brought the containers back) it takes the project's lock, unless another run holds it and with it the stack,
and runs ``docker compose down``.

Run by the harness: python -m gameday.compose.guard --pid PID --project NAME [--ledger FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from gameday.core.errors import HarnessError
from gameday.faults.ledger import Ledger, alive
from gameday.target.lock import TargetLock


def guard(pid: int, project: str, compose: list[str], ledger: Path | None = None, poll: float = 0.5,
          faults_within: float = 120.0, engine_within: float = 180.0) -> str:
    """Wait for ``pid`` to end, then for its faults' watchdogs to close their ledger entries (at most
    ``faults_within`` seconds) and for the engine to answer (``engine_within``); then bring down whatever of
    ``project`` is there. What happened, in a few words."""
    while alive(pid):
        time.sleep(poll)
    deadline = time.monotonic() + faults_within
    while ledger is not None and time.monotonic() < deadline and any(
            e.get("pid") == pid for e in Ledger(ledger).pending()):
        time.sleep(poll)
    containers = _project_containers(project, engine_within)
    if containers is None:
        return f"run {pid} ended; the Docker engine did not answer within {engine_within:g}s: {project} left as is"
    if not containers:
        return f"run {pid} ended; nothing of {project} is left"
    try:
        lock = TargetLock(f"compose-{project}").acquire()
    except HarnessError:
        return f"run {pid} ended; another run holds {project} now: left to it"
    try:
        for _ in range(10):
            res = subprocess.run([*compose, "--project-name", project, "down", "--volumes", "--remove-orphans",
                                  "--timeout", "5"], capture_output=True, text=True, timeout=120,
                                 stdin=subprocess.DEVNULL)
            if res.returncode == 0 and not _project_containers(project, 10.0):
                break
            time.sleep(6)
        said = " ".join((res.stdout + res.stderr).split())[-300:]
        return (f"run {pid} ended with {len(containers)} container(s) of {project} there: docker compose down exit "
                f"{res.returncode} {said}")
    finally:
        lock.release()


def _project_containers(project: str, within: float) -> list[str] | None:
    """The ids of ``project``'s containers, asking until the engine answers (None: it never did)."""
    deadline = time.monotonic() + within
    while True:
        res = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={project}",
                              "--filter", "label=com.docker.compose.container-number"],  # made by Compose
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        if res.returncode == 0:
            return res.stdout.split()
        if time.monotonic() > deadline:
            return None
        time.sleep(2.0)


def main(argv: list[str] | None = None) -> int:
    from gameday.compose.engine import compose_binary

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
