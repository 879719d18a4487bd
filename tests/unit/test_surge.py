"""The traffic surge: its scenario checks, the load's control file, and what a later run does with a surge
a killed run left open."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gameday.core.errors import ConfigError
from gameday.load.locust import LocustRun
from gameday.load.surge import revert_left
from gameday.scenario.loading import load_scenario

SURGE = """\
id: surge
title: Surge
priority: p1
runbook: runbooks/003-service-down.md
load: {users: 5, spawn_rate: 5}
fault: {kind: traffic-surge, target: inference-gateway, users: USERS}
expect:
  - {alert: ModelBackendSaturated, receiver: chat, within: 15m}
recovery: {mode: MODE, mttr_goal: 20m}
"""


def load(tmp_path, root, users="30", mode="revert"):
    path = tmp_path / "surge.yaml"
    path.write_text(SURGE.replace("USERS", users).replace("MODE", mode))
    return load_scenario(path, root)


def sleeper(*argv: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", *argv], start_new_session=True)
    time.sleep(0.2)
    return proc


def test_a_surge_loads_with_its_users_and_a_default_ramp(tmp_path, root):
    fault = load(tmp_path, root).fault
    assert (fault.kind, fault.users, fault.spawn_rate) == ("traffic-surge", 30, 20)


@pytest.mark.parametrize(("users", "mode", "field", "reason"), [
    ("5", "revert", "fault.users", "5 is not a surge over the load's 5 users"),
    ("3", "revert", "fault.users", "3 is not a surge over the load's 5 users"),
    ("201", "revert", "fault.users", "200"),
    ("30", "auto", "recovery.mode", "a surge does not end by itself"),
])
def test_a_surge_that_is_not_one_is_one_line(tmp_path, root, users, mode, field, reason):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, root, users, mode)
    text = str(err.value)
    assert field in text and reason in text and "\n" not in text


def test_the_control_file_is_written_whole_and_a_run_not_started_steerable_refuses(tmp_path):
    run = LocustRun(tmp_path / "x.py", "http://127.0.0.1:9", 5, 5, tmp_path / "load", steerable=True)
    (tmp_path / "load").mkdir()
    run.steer(30, 20)
    assert run.control.read_text() == '{"users": 30, "spawn_rate": 20}'
    assert not run.control.with_suffix(".tmp").exists()
    plain = LocustRun(tmp_path / "x.py", "http://127.0.0.1:9", 5, 5, tmp_path / "plain")
    with pytest.raises(Exception, match="not started steerable"):
        plain.steer(30, 20)


def test_user_count_reads_the_last_report(tmp_path):
    run = LocustRun(tmp_path / "x.py", "http://127.0.0.1:9", 5, 5, tmp_path)
    assert run.user_count() is None  # no report yet
    (tmp_path / "locust_stats_history.csv").write_text(
        "Timestamp,User Count,Type,Name\n1,5,,Aggregated\n2,25,,Aggregated\n3,30,,Aggregated\n")
    assert run.user_count() == 30


def test_a_left_surge_whose_locust_died_is_gone():
    state, note = revert_left({"kind": "traffic-surge", "detail": {"locust_pid": 2 ** 22 + 7, "locust_csv": "/x"}})
    assert state == "gone" and "died with the run" in note

