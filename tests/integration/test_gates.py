"""What stops a drill before or during its fault on purpose: a stop condition, the error-budget gate and its override,
a drilled runbook whose command is wrong."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.conftest import SHARED_SCALE, gameday_env


def test_a_stop_condition_aborts_the_drill_and_reverts_the_fault_at_once(run_gameday, tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (ROOT / "scenarios/high-error-rate.yaml").read_text()
    text += ('abort_when:\n  - description: "any 5xx at all: a blast radius of zero"\n'
             '    expr: sum(increase(http_requests_total{job="inference-gateway", status=~"5.."}[2s])) > 0\n')
    (scenarios / "careful.yaml").write_text(text)
    run = run_gameday("-k", "test_drill", "--scenarios", str(scenarios), "--time-scale", "60")
    assert run.proc.returncode == 1, run.out
    assert re.search(r"ABORTED: stop condition held during (detect|inject) at .*any 5xx at all.*; stop-service "
                     r"model-backend was reverted at once", run.out), run.out
    j = run.journals()["high-error-rate"]
    assert j["verdict"] == "ABORTED" and "t_inject" in j["marks"] and "t_notified" not in j["marks"]
    ledger = [json.loads(line) for line in (run.reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"]
    assert [r["status"] for r in run.allure_results()] == ["broken"]


def slo_file(tmp_path: Path, errors: str, total: str, name: str = "slo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"slos:\n  - name: inference-availability\n    objective: 99.5\n    window: 30d\n"
                    f"    errors: '{errors}'\n    total: '{total}'\n")
    return path


def test_the_error_budget_gate_skips_a_drill_once_the_budget_is_spent(run_gameday, tmp_path):
    """The lab's own counters since it started: the fast burn (the longest drill, so the first) spends the budget,
    the next drills may not."""
    gateway = 'http_requests_total{job="inference-gateway"'
    slo = slo_file(tmp_path, f'sum({gateway}, status=~"5.."}}) or vector(0)', f"sum({gateway}}})")
    run = run_gameday("-m", "p0", "-k", "high-error-rate or service-outage or slo-fast-burn", "--time-scale", "60",
                      "--error-budget-gate", "always", "--slo", str(slo))
    assert run.proc.returncode == 0, run.out
    assert "1 passed, 2 skipped" in run.out, run.out
    first, second = run.journals()["slo-fast-burn"], run.journals()["high-error-rate"]
    assert run.journals()["service-outage"]["verdict"] == "SKIPPED"
    assert first["verdict"] == "PASS" and first["error_budget"]["state"] == "healthy", first["error_budget"]
    assert first["error_budget"]["slos"][0]["left"] == 1.0
    assert second["verdict"] == "SKIPPED" and second["error_budget"]["state"] == "emergency"
    assert second["error_budget"]["slos"][0]["left"] < 0.1
    assert re.search(r"error budget emergency: inference-availability \(99.5% over 30d\): -?[\d.]+% left \(\d+ of "
                     r"\d+ requests failed", second["reasons"][0]), second["reasons"]
    assert "full freeze" in second["reasons"][0] and "--error-budget-override REASON" in second["reasons"][0]
    assert "t_inject" not in second["marks"] and not second["fault"]
    ledger = [json.loads(line) for line in (run.reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"], "only the first drill may inject"
    assert sorted(r["status"] for r in run.allure_results()) == ["passed", "skipped", "skipped"]
    assert "error budget healthy: inference-availability" in run.out


def test_an_override_drills_despite_the_budget_and_says_so(run_gameday, tmp_path):
    slo = slo_file(tmp_path, "vector(30)", "vector(100)")
    why = "approved by the SRE lead for the Q4 game day"
    run = run_gameday("-k", "service-outage", "--time-scale", SHARED_SCALE, "--error-budget-gate", "always",
                      "--slo", str(slo), "--error-budget-override", why)
    assert run.proc.returncode == 0, run.out
    j = run.journals()["service-outage"]
    assert j["verdict"] == "PASS" and j["error_budget"]["state"] == "emergency"
    assert j["error_budget"]["override"] == why and f"overridden on purpose: {why}" in j["error_budget"]["line"]
    (result,) = run.allure_results()
    params = {p["name"]: p["value"] for p in result["parameters"]}
    assert params["error budget"] == "'emergency'" and params["error budget override"] == repr(why)  # Allure: repr


def project_copy(tmp_path: Path) -> Path:
    """The project's catalog, config and runbooks in a folder of their own, to break one runbook there."""
    copy = tmp_path / "project"
    for name in ("gamedays", "config", "runbooks", "scenarios", "locustfiles"):
        shutil.copytree(ROOT / name, copy / name)
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(ROOT / name, copy / name)
    return copy


def test_a_wrong_command_in_a_drilled_runbook_fails_its_drill_naming_the_step(tmp_path):
    """``recovery: runbook`` runs the runbook's marked commands as written (the P0 test above shows them end their
    incidents). With one command wrong in a copy of runbook 003, the drill FAILs naming that step, and the fault
    is still reverted at the end."""
    project = project_copy(tmp_path)
    runbook = project / "runbooks/003-service-down.md"
    text = runbook.read_text()
    wrong = text.replace('"$SUPERVISOR/services/inference-gateway/restart"', '"$SUPERVISOR/services/gateway/restart"')
    assert wrong != text
    runbook.write_text(wrong)
    broken = tmp_path / "broken"
    proc = subprocess.run([sys.executable, "-m", "pytest", str(project / "gamedays"), "--rootdir", str(project),
                           "-c", str(project / "pyproject.toml"), "--reports", str(broken / "reports"),
                           "--alluredir", str(broken / "allure"), "-p", "no:cacheprovider",
                           "-k", "gateway-down-runbook", "--time-scale", SHARED_SCALE],
                          cwd=tmp_path, env=gameday_env(), capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    (journal,) = [json.loads(p.read_text()) for p in (broken / "reports/drills").glob("*.json")]
    assert journal["verdict"] == "FAIL", journal["reasons"]
    reason = journal["reasons"][0]
    assert "mitigation 'restart-gateway', step 2 of 3" in reason and "services/gateway/restart" in reason, reason
    assert "exited 22" in reason, reason  # curl -f: the supervisor answered 404 for a service it does not have
    ledger = [json.loads(line) for line in (broken / "reports/fault-ledger.jsonl").read_text().splitlines()]
    assert ledger[-1]["state"] == "reverted", "the harness still reverts the fault the runbook did not end"


