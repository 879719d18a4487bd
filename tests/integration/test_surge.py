"""The traffic surge: its scenario checks, the load's control file, and what a later run does with a surge
a killed run left open.

The tests here start a process; the rest of them are in ``tests/unit/test_surge.py``."""

from __future__ import annotations

from gameday.load.surge import revert_left
from tests.unit.test_surge import sleeper


def test_a_left_surge_never_kills_a_process_that_merely_has_its_pid():
    other = sleeper("unrelated")
    try:
        state, _ = revert_left({"kind": "traffic-surge", "detail": {"locust_pid": other.pid, "locust_csv": "/r/l"}})
        assert state == "gone" and other.poll() is None, "a reused pid is not that run's Locust"
    finally:
        other.kill()
        other.wait()


def test_a_left_surge_whose_locust_still_runs_is_stopped(tmp_path):
    csv = str(tmp_path / "locust")
    locust = sleeper("locust", "--csv", csv)
    try:
        state, note = revert_left({"kind": "traffic-surge", "detail": {"locust_pid": locust.pid, "locust_csv": csv}})
        assert state == "reverted" and "stopped" in note
        assert locust.wait(5) is not None
    finally:
        if locust.poll() is None:
            locust.kill()
            locust.wait()

