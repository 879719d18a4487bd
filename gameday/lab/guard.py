"""A lab's guard: sweeps what a lab leaves when the process that runs it dies outright.

The lab's services die with that process (``PR_SET_PDEATHSIG``), but its backend's cgroup, and any stress-ng in
it, need someone alive to end them. ``Lab.start`` starts this guard in a session of its own; ``Lab.stop`` ends it
once the lab is down. Should the process be killed (SIGKILL, the OOM killer), the guard sees its pid gone and
sweeps the lab's folder as ``gameday revert`` does, unless another run has taken the folder meanwhile.

Run by the lab: python -m gameday.lab.guard --pid PID --workdir DIR
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gameday.faults.ledger import alive


def guard(pid: int, workdir: Path, poll: float = 0.5) -> str:
    from gameday.lab.target import sweep_lab

    while alive(pid):
        time.sleep(poll)
    return "; ".join(sweep_lab(workdir)) or f"the lab's process {pid} ended; nothing was left in {workdir}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gameday.lab.guard", description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    print(guard(args.pid, args.workdir), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
