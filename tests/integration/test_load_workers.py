"""Load past one process: a scenario's ``load.workers`` runs Locust's distributed mode (a master and worker
processes on loopback). A drill on it passes with the figures aggregated at the master; a worker lost while the
fault is in makes the drill ERROR, never PASS or FAIL, and the fault is still reverted."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil

from tests.conftest import ROOT
from tests.integration.conftest import SHARED_SCALE, gameday_argv, gameday_env, read_until


def with_workers(tmp_path: Path, scenario: str, workers: int, **replace: str) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    text = (ROOT / "scenarios" / f"{scenario}.yaml").read_text()
    text = text.replace("  spawn_rate: 5\n", f"  spawn_rate: 5\n  workers: {workers}\n")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    assert f"workers: {workers}" in text
    (folder / f"{scenario}.yaml").write_text(text)
    return folder


def test_a_drill_on_two_locust_workers_passes_with_their_figures_at_the_master(run_gameday, tmp_path):
    scenarios = with_workers(tmp_path, "high-error-rate", 2)
    run = run_gameday("-k", "test_drill", "--scenarios", str(scenarios), "--time-scale", SHARED_SCALE)
    assert run.proc.returncode == 0, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "PASS" and journal["load"]["requests"] > 50, journal["load"]
    session = run.reports / "load" / "session"
    assert sorted(p.name for p in session.glob("locust-worker-*.log")) == ["locust-worker-0.log",
                                                                           "locust-worker-1.log"]
    assert "--master" not in run.out


def test_a_worker_lost_while_the_fault_is_in_makes_the_drill_error(tmp_path):
    scenarios = with_workers(tmp_path, "service-outage", 2, **{"mode: auto": "mode: revert",
                                                               "duration: 75s": "duration: 20m"})
    proc = subprocess.Popen(gameday_argv(tmp_path, "-k", "test_drill", "--scenarios", str(scenarios),
                                         "--time-scale", "60"),
                            cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    seen = read_until(proc, "detect")
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if "--worker" in p.cmdline() and "locust" in " ".join(p.cmdline())]
    assert len(workers) == 2, [p.cmdline() for p in workers]
    workers[0].kill()
    lost_at = time.monotonic()
    rest, _ = proc.communicate(timeout=180)
    out = "".join(seen) + rest
    assert proc.returncode == 1, out
    (journal,) = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "drills").glob("*.json")]
    assert journal["verdict"] == "ERROR", journal["reasons"]
    assert "the load's Locust workers went missing while kill-service inference-gateway was in" in \
        journal["reasons"][0] and "worker 0 exited" in journal["reasons"][0], journal["reasons"]
    ledger = [json.loads(line) for line in (tmp_path / "reports" / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"]
    assert [json.loads(p.read_text())["status"] for p in (tmp_path / "allure").glob("*-result.json")] == ["broken"]
    assert time.monotonic() - lost_at < 15, "the drill ended at once, not after its 20 s hold"
