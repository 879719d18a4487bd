"""Drills ended from outside: a signal in each phase, a parallel run stopped, a monitoring component killed, a
worker that crashes. Each reverts its fault, leaves nothing running and never reads passed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import (
    SHARED_SCALE,
    drill_until_detect,
    gameday_argv,
    gameday_env,
    processes_mentioning,
)


def test_sigterm_mid_drill_reverts_the_fault_and_stops_everything(tmp_path):
    proc, seen = drill_until_detect(tmp_path, "-k", "high-error-rate", "--time-scale", "20")
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    out = "".join(seen) + rest
    assert proc.returncode != 0
    assert "verdict ERROR: interrupted (signal 15) during detect, after stop-service model-backend was injected; " \
           "the fault was reverted" in out
    assert "1 failed" in out, "an interrupted drill is counted in pytest's summary"
    assert "a drill was interrupted" in out
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert [r["status"] for r in results] == ["broken"], "an interrupted drill never reads passed in Allure"
    assert "interrupted" in results[0]["statusDetails"]["message"]
    reports = tmp_path / "reports"
    ledger = [json.loads(line) for line in (reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"]
    journal = json.loads(next((reports / "drills").glob("high-error-rate-*.json")).read_text())
    assert journal["verdict"] == "ERROR"
    time.sleep(0.5)
    assert processes_mentioning(str(reports)) == [], "processes of the drill were left running"


def test_sigterm_while_the_target_starts_never_reads_passed(tmp_path):
    """Interrupted before its drill began (the lab still starting, the session's Locust already up): no fault, no
    journal, and the test is an ERROR, broken in Allure, never passed (allure-pytest alone wrote passed)."""
    proc = subprocess.Popen(gameday_argv(tmp_path, "-k", "test_drill and service-outage", "--time-scale", "60"),
                            cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    reports = tmp_path / "reports"
    deadline = time.monotonic() + 60
    while not (reports / "load" / "session" / "locust.log").exists():  # the services answer; Prometheus waits 5 s
        assert time.monotonic() < deadline and proc.poll() is None, "the session's Locust never started"
        time.sleep(0.05)
    time.sleep(0.5)
    assert not (reports / "lab" / "endpoints.json").exists(), "the lab was ready already: too late to test this"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    assert "interrupted (Ctrl-C or SIGTERM) before drill service-outage began" in out, out
    assert "1 failed" in out, "an interrupted drill is counted in pytest's summary"
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert [r["status"] for r in results] == ["broken"], results
    assert not list(reports.glob("drills/*.json")), "no drill began, so no journal"
    assert not (reports / "fault-ledger.jsonl").exists() or not (reports / "fault-ledger.jsonl").read_text()
    time.sleep(0.5)
    assert processes_mentioning(str(reports)) == [], "processes of the lab or its Locust were left running"


def test_sigterm_during_the_verdict_is_error_everywhere_with_its_journal(tmp_path):
    """Every check done, the evidence half gathered: the drill's verdict was cut, so it is ERROR in the journal, on
    the console and in Allure (it was an empty "ERROR: " with no journal)."""
    # the SIGTERM comes from inside the verdict, after the load summary and the notifications are in: sent from
    # outside a fixed time after "verdict" was printed, it sometimes came after the verdict was done
    (tmp_path / "term_in_verdict.py").write_text(
        "import os, signal\n"
        "import gameday.drill.verdict as v\n"
        "_refused = v.record_refused\n"
        "def record_refused(pc):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return _refused(pc)\n"
        "v.record_refused = record_refused\n")
    env = gameday_env() | {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run(gameday_argv(tmp_path, "-p", "term_in_verdict", "-k", "test_drill and service-outage",
                                       "--time-scale", "60"), cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    said = "interrupted (signal 15) during verdict, after kill-service inference-gateway was injected; the fault " \
           "was reverted"
    assert f"ERROR: {said}" in out and "1 failed" in out, out
    journal = json.loads(next((tmp_path / "reports" / "drills").glob("service-outage-*.json")).read_text())
    assert journal["verdict"] == "ERROR" and journal["reasons"] == [said], journal["reasons"]
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert [r["status"] for r in results] == ["broken"], results


def test_a_signal_held_back_during_the_injection_still_leaves_the_injection_on_the_timeline(tmp_path):
    """A signal that arrives while the fault goes in is held back until the injection is whole, and so lands
    before the drill marks it: the journal still says when the fault went in and that it was reverted."""
    (tmp_path / "term_at_inject.py").write_text(
        "import os, signal\n"
        "from gameday.faults.base import Fault\n"
        "_inject = Fault.inject\n"
        "def inject(self):\n"
        "    apply = self._apply\n"
        "    def applied():\n"
        "        apply()\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "    self._apply = applied\n"
        "    return _inject(self)\n"
        "Fault.inject = inject\n")
    env = gameday_env() | {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run(gameday_argv(tmp_path, "-p", "term_at_inject", "-k", "high-error-rate", "--time-scale",
                                       "20"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode != 0, proc.stdout
    reports = tmp_path / "reports"
    (journal,) = [json.loads(p.read_text()) for p in (reports / "drills").glob("*.json")]
    assert journal["verdict"] == "ERROR"
    assert journal["reasons"][0] == ("interrupted (signal 15) during inject, after stop-service model-backend was "
                                     "injected; the fault was reverted"), journal["reasons"]
    assert journal["marks"]["t_inject"]["t"] >= journal["marks"]["t_steady"]["t"]
    ledger = [json.loads(line) for line in (reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"]


def test_sigterm_to_a_parallel_run_reverts_every_fault_and_the_summary_has_every_drill(tmp_path):
    """SIGTERM to the process group of a ``-n 2`` run (as Ctrl-C in a terminal reaches the controller and its
    workers) once a fault is in: each worker reverts its own fault, and the controller's summary shows every
    interrupted drill as ERROR, read from the journals its workers wrote after it stopped listening."""
    proc = subprocess.Popen(gameday_argv(tmp_path, "-n", "2", "-k", "high-error-rate or service-outage",
                                         "--time-scale", "20"),
                            cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    ledger_path = tmp_path / "reports" / "fault-ledger.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "injecting" not in (ledger_path.read_text() if ledger_path.exists()
                                                              else ""):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode != 0, out
    reports = tmp_path / "reports"
    journals = [json.loads(p.read_text()) for p in (reports / "drills").glob("*.json")]
    assert journals and all(j["verdict"] == "ERROR" and j["reasons"][0].startswith("interrupted (signal 15)")
                            for j in journals), [j["reasons"] for j in journals]
    summary = out.split("gameday summary", 1)[1]
    for j in journals:
        assert f"{j['scenario']} ERROR: interrupted (signal 15)" in summary, summary
    injected = [j for j in journals if "was injected;" in j["reasons"][0]]
    assert injected and all(j["reasons"][0].endswith("the fault was reverted") and "t_inject" in j["marks"]
                            for j in injected), [(j["reasons"], j["marks"]) for j in injected]
    ledger = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    opened = {e["id"] for e in ledger if e["state"] == "injecting"}
    assert opened and opened == {e["id"] for e in ledger if e["state"] == "reverted"}, ledger
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert sorted(r["status"] for r in results) == ["broken"] * len(journals), "interrupted: never passed in Allure"
    time.sleep(0.5)
    assert processes_mentioning(str(reports)) == [], "processes of the drill were left running"


@pytest.mark.parametrize("component, binary", [("Alertmanager", "prometheus-alertmanager"),
                                               ("Prometheus", "prometheus")])
def test_a_monitoring_component_dying_mid_drill_is_error_naming_it(tmp_path, component, binary):
    proc, seen = drill_until_detect(tmp_path, "-k", "high-error-rate", "--time-scale", "20")
    pids = json.loads((tmp_path / "reports" / "lab" / "pids.json").read_text())["pids"]
    os.kill(pids[component.lower()], signal.SIGKILL)
    rest, _ = proc.communicate(timeout=120)
    out = "".join(seen) + rest
    assert proc.returncode == 1, out
    assert re.search(rf"verdict ERROR: {component} (stopped answering|restarted|at \S+ did not answer)", out), out
    assert "this says nothing about the alert" in out and "verdict FAIL" not in out
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert [r["status"] for r in results] == ["broken"]
    ledger = [json.loads(line) for line in (tmp_path / "reports" / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"]
    if component == "Prometheus":  # the verdict phase once retried the dead Prometheus's range queries for ~37 s
        (journal,) = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "drills").glob("*.json")]
        assert journal["series"] == {"error": "Prometheus did not answer at the end of the drill: no range data"}


def test_a_crashed_worker_leaves_every_other_result_and_its_drill_reads_error_everywhere(tmp_path):
    """kill -9 of a ``-n 2`` worker mid-drill: pytest-xdist starts a new worker, which once ran --clean-alluredir
    again and wiped the passed drills' results; the dead drill had no journal, summary row or result at all."""
    proc = subprocess.Popen(gameday_argv(tmp_path, "-n", "2", "-k", "test_drill and (high-error-rate or "
                                         "service-outage or gateway-down-runbook)", "--time-scale", SHARED_SCALE,
                                         "--junitxml", str(tmp_path / "junit.xml")),
                            cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    ledger_path = tmp_path / "reports" / "fault-ledger.jsonl"
    deadline = time.monotonic() + 120
    victim = None
    while time.monotonic() < deadline and victim is None:
        lines = ledger_path.read_text().splitlines() if ledger_path.exists() else []
        victim = next((json.loads(x)["pid"] for x in lines if '"injecting"' in x), None)
        time.sleep(0.05)
    assert victim is not None, "no fault was ever injected"
    os.kill(victim, signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out
    paths = (tmp_path / "reports/drills").glob("*.json")
    journals = {j["scenario"]: j for j in (json.loads(p.read_text()) for p in paths)}
    crashed = [j for j in journals.values() if j["verdict"] == "ERROR"]
    assert len(crashed) == 1 and "died while it ran this drill" in crashed[0]["reasons"][0], journals
    assert "fault(s) it left were reverted from the ledger" in crashed[0]["reasons"][0]
    passed = [j for j in journals.values() if j["verdict"] == "PASS"]
    assert len(journals) == 3 and len(passed) == 2, {k: j["verdict"] for k, j in journals.items()}
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert sorted(r["status"] for r in results) == ["broken", "passed", "passed"], "no result lost, none passed"
    summary = out.split("gameday summary", 1)[1]
    assert f"{crashed[0]['scenario']} " in summary and "ERROR" in summary
    assert "ERROR: the pytest-xdist worker" in (tmp_path / "junit.xml").read_text(), "JUnit says what happened"
    ledger = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    assert {e["id"] for e in ledger if e["state"] == "injecting"} == \
        {e["id"] for e in ledger if e["state"] != "injecting"}, "every fault closed, the dead worker's too"
    time.sleep(0.5)
    assert processes_mentioning(str(tmp_path / "reports")) == [], "the dead worker's lab was left running"
