"""One game day per target at a time; a lock left by a dead run is taken over, and says whose it was."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gameday.core.errors import HarnessError
from gameday.target.lock import TargetLock
from tests.conftest import ROOT

HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from gameday.target.lock import TargetLock
TargetLock("compose-demo", {folder!r}).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_run_is_refused_while_the_first_holds_the_target_and_takes_over_once_it_died(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT), folder=str(tmp_path))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(HarnessError, match=rf"another game day is running on compose-demo \(pid {holder.pid} "):
            TargetLock("compose-demo", str(tmp_path)).acquire()
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    lock = TargetLock("compose-demo", str(tmp_path)).acquire()
    assert lock.stale is not None and f"pid {holder.pid}" in lock.stale, "the dead run's lock is noticed"
    lock.release()
    again = TargetLock("compose-demo", str(tmp_path)).acquire()
    assert again.stale is None, "a lock released cleanly leaves nothing stale"
    again.release()


def test_a_waiting_acquire_blocks_until_the_holder_lets_go(tmp_path):
    """Two runs that need one image built: the second waits for the first's lock instead of building it again."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT), folder=str(tmp_path))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        import threading

        threading.Timer(0.5, holder.kill).start()
        t0 = time.monotonic()
        lock = TargetLock("compose-demo", str(tmp_path)).acquire(wait=True)
        waited = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    assert waited >= 0.4, f"acquired after {waited:.2f} s, while the holder still held the lock"
    assert lock.stale is not None and f"pid {holder.pid}" in lock.stale
    lock.release()
