"""The local cluster's guard: takes the cluster down when the run that started it dies without doing so.

``LocalCluster.start`` starts it in a session of its own. Once the run's process has ended, however it ended, the
guard takes the cluster's lock (which the kernel let go of with the run), unless another run holds it and with it
a cluster of its own, and sweeps whatever of a cluster is there (``gameday.k8s.cluster.sweep``): its processes and
its pods', mounts, cgroups, bridge, node address and runtime folder.

Run by the harness: python -m gameday.k8s.guard --pid PID
"""

from __future__ import annotations

import argparse
import sys
import time

from gameday.core.errors import HarnessError
from gameday.faults.ledger import alive
from gameday.k8s.cluster import LOCK
from gameday.k8s.sweep import sweep
from gameday.target.lock import TargetLock


def guard(pid: int, poll: float = 0.5) -> str:
    """Wait for ``pid`` to end, then sweep the cluster it left. What happened, in a few words."""
    while alive(pid):
        time.sleep(poll)
    try:
        lock = TargetLock(LOCK).acquire()
    except HarnessError:
        return f"run {pid} ended; another run holds the cluster now: left to it"
    try:
        found = sweep()
    finally:
        lock.release()
    return f"run {pid} ended; swept {len(found)} leftover(s) of its cluster" + (f": {'; '.join(found)[:400]}"
                                                                              if found else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gameday.k8s.guard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pid", type=int, required=True, help="the run whose cluster this guards")
    args = parser.parse_args(argv)
    print(f"gameday k8s guard: {guard(args.pid)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
