"""A warm lab (``gameday lab up``): kept up between pytest sessions, which drill on it, and put back as it was
started when a session dies holding a fault."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import ROOT
from tests.integration.conftest import gameday_argv, gameday_env, processes_mentioning


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday.cli.main", *args], cwd=ROOT, env=gameday_env(),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_sessions_drill_on_a_warm_lab_which_restores_itself_when_a_session_dies_holding_a_fault(tmp_path,
                                                                                                run_gameday):
    reports = tmp_path / "reports"
    up = gameday("lab", "up", "--reports", str(reports), "--time-scale", "60")
    try:
        assert up.returncode == 0 and "warm lab ready in" in up.stdout, up.stdout + up.stderr
        warm = json.loads((reports / "lab" / "warm.json").read_text())
        supervisor = warm["endpoints"]["supervisor"]
        pids = {n: s["pid"] for n, s in requests.get(f"{supervisor}/services", timeout=5).json().items()}

        run = run_gameday("-k", "test_drill and high-error-rate", "--time-scale", "60")
        assert run.proc.returncode == 0, run.out
        assert "lab ready in 0." in run.out and "the warm lab kept up by `gameday lab up`" in run.out
        journal = run.journals()["high-error-rate"]
        assert journal["verdict"] == "PASS"
        assert "warm lab" in journal["error_budget"]["why"], "a lab that serves only drills has nobody's budget"
        after = requests.get(f"{supervisor}/services", timeout=5).json()
        assert all(s["running"] for s in after.values()), after
        assert after["inference-gateway"]["pid"] == pids["inference-gateway"], "the session did not restart the lab"

        # under -n each worker starts its own lab: the warm lab says it is not used
        parallel = run_gameday("-n", "2", "-k", "no_such_drill", "--time-scale", "60")
        assert "is not used under -n: each worker starts a lab of its own" in parallel.out, parallel.out

        # another time scale is another lab: one line, nothing drilled
        other = run_gameday("-k", "test_drill and high-error-rate", "--time-scale", "20")
        assert other.proc.returncode != 0
        assert "was started with time scale 60 (this run: 20)" in other.out and "Traceback" not in other.out
        assert len(list((reports / "drills").glob("*.json"))) == 1
        assert (reports / "lab" / "pids.json").exists() and (reports / "lab" / "endpoints.json").exists(), \
            "a refused session leaves the warm lab's files alone"
        assert gameday("lab", "status", "--reports", str(reports)).returncode == 0

        # a session killed outright with the backend stopped: the lab puts it back, and the ledger says so
        ledger = reports / "fault-ledger.jsonl"
        seen = len(ledger.read_text().splitlines())
        proc = subprocess.Popen(gameday_argv(tmp_path, "-k", "test_drill and high-error-rate", "--time-scale", "60"),
                                cwd=tmp_path, env=gameday_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while '"injecting"' not in "".join(ledger.read_text().splitlines()[seen:]):
            assert time.monotonic() < deadline and proc.poll() is None, "the drill never injected its fault"
            time.sleep(0.05)
        deadline = time.monotonic() + 10  # the ledger says injecting before the stop: wait for it to take effect
        while requests.get(f"{supervisor}/services", timeout=5).json()["model-backend"]["running"]:
            assert time.monotonic() < deadline and proc.poll() is None, "the session's fault never stopped the backend"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while not requests.get(f"{supervisor}/services", timeout=5).json()["model-backend"]["running"]:
            assert time.monotonic() < deadline, "the warm lab did not start the backend its dead session stopped"
            time.sleep(0.1)
        deadline = time.monotonic() + 30
        while len(entries := [json.loads(x) for x in ledger.read_text().splitlines()[seen:]]) < 2:
            assert time.monotonic() < deadline, f"the fault's watchdog did not close its entry: {entries}"
            time.sleep(0.2)
        opened, closed = entries
        assert opened["detail"]["restore"] == f"{supervisor}/restore"
        assert closed["state"] == "reverted", closed
        assert "restored the target's baseline: 6 services running" in closed["note"], closed
        assert "ended holding the lab: restore 200" in (reports / "lab" / "warm.log").read_text()

        # the next session still drills on it
        again = run_gameday("-k", "test_drill and service-outage", "--time-scale", "60")
        assert again.proc.returncode == 0, again.out
    finally:
        down = gameday("lab", "down", "--reports", str(reports))
        if (reports / "lab" / "warm.json").exists():  # it did not stop: killed, so that no later test meets it
            with contextlib.suppress(OSError, ValueError, KeyError):
                os.kill(int(json.loads((reports / "lab" / "warm.json").read_text())["pid"]), signal.SIGKILL)
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout
    assert not (reports / "lab" / "warm.json").exists()
    time.sleep(0.5)
    assert processes_mentioning(str(reports)) == [], "the warm lab left processes running"
    assert gameday("lab", "status", "--reports", str(reports)).returncode == 1


def test_lab_up_refuses_bad_input_in_one_line(tmp_path):
    for args, said in ((("--rules", str(tmp_path / "none")), "--rules"),
                       (("--time-scale", "0"), "--time-scale 0: between 0.1 and 300"),
                       (("--time-scale", "1e9"), "--time-scale 1e+09: between 0.1 and 300"),
                       (("--root", str(tmp_path)), "has no config/ folder")):
        res = gameday("lab", "up", "--reports", str(tmp_path / "reports"), *args)
        assert res.returncode == 2 and said in res.stdout and len(res.stdout.splitlines()) == 1, res.stdout
        assert "Traceback" not in res.stdout + res.stderr
    assert not (tmp_path / "reports" / "lab" / "warm.json").exists()


def test_a_warm_lab_killed_outright_leaves_no_cgroup_behind(tmp_path):
    """Its backend's cgroup once stayed until `gameday revert`: the lab's guard now sweeps it."""
    from gameday.lab.cgroups import lab_cgroup
    from gameday.lab.stack import BACKEND

    reports = tmp_path / "reports"
    up = gameday("lab", "up", "--reports", str(reports), "--time-scale", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    group = lab_cgroup((reports / "lab").resolve(), BACKEND)
    if not group.dir("memory").exists():
        pytest.skip("this machine gives the lab's backend no cgroup of its own")
    os.kill(int(json.loads((reports / "lab" / "warm.json").read_text())["pid"]), signal.SIGKILL)
    deadline = time.monotonic() + 15
    while group.dir("memory").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group.dir("memory").exists(), (reports / "lab" / "logs" / "guard.log").read_text()
    time.sleep(0.5)
    assert processes_mentioning(str(reports)) == [], "the killed warm lab left processes running"
