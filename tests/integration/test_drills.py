"""Whole drills on the real lab, run as a user runs them: ``pytest gamedays/ ...`` in its own process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.integration.conftest import gameday_argv, gameday_env, processes_mentioning


def test_p0_drills_pass_and_leave_allure_results(run_gameday):
    run = run_gameday("-m", "p0", "--time-scale", "60")
    assert run.proc.returncode == 0, run.out
    assert "6 passed" in run.out and "time scale 60" in run.out
    assert "gameday summary" in run.out
    journals = run.journals()
    assert set(journals) == {"service-outage", "high-error-rate", "slo-fast-burn", "backend-down-runbook",
                             "gateway-down-runbook", "slo-burn-runbook"}
    for name, j in journals.items():
        assert j["verdict"] == "PASS", (name, j["reasons"])
        t = j["timings"]
        assert 0 < t["ttd"] <= t["ttn"]
        sla = next(v for k, v in j["goals"].items() if k.startswith("sla:"))
        assert t["ttn"] <= sla and t["mttr"] <= j["goals"]["mttr"]
        assert t["ttn"] >= j["floors"][next(k for k in j["floors"] if k.startswith("notify_floor"))] - 0.05
        assert [p["phase"] for p in j["phases"]] == ["preflight", "steady-state", "inject", "detect", "recover",
                                                     "resolve", "verdict"]
        assert j["load"]["requests"] > 0
        assert j["error_budget"]["checked"] is False and "created by this run" in j["error_budget"]["why"]
        assert any(n["payload"]["status"] == "resolved" for n in j["notifications"])
    for name in ("backend-down-runbook", "gateway-down-runbook", "slo-burn-runbook"):  # by the runbook's commands
        j = journals[name]
        steps = [e["note"] for e in j["events"] if e.get("event") == "note" and e["note"].startswith("runbook ")]
        assert steps and all("(exit 0," in s for s in steps), (name, steps)
        (mitigated,) = [e["detail"] for e in j["events"] if e.get("name") == "t_mitigated"]
        assert mitigated.startswith("runbook runbooks/") and "mitigation" in mitigated, mitigated
    results = {r["name"]: r for r in run.allure_results()}
    assert len(results) == 6
    for r in results.values():
        assert r["status"] == "passed"
        params = {p["name"]: p["value"] for p in r["parameters"]}
        assert {"TTD", "TTN / SLA", "MTTR / goal", "TTN real-time"} <= set(params)
        assert [s["name"] for s in r["steps"]][:3] == ["preflight", "steady-state", "inject"]
        assert {"name": "severity", "value": "critical"} in r["labels"]
        assert any(link["url"].endswith(".md") for link in r["links"])
        assert {a["name"] for a in r["attachments"]} >= {"drill timeline", "notifications received", "locust stats",
                                                        "drill plot", "drill review"}
        assert any(a["name"].startswith("runbook ") and a["source"].endswith(".md") for a in r["attachments"])
    holds = {">": lambda v, th: v > th, "==": lambda v, th: v == th}
    for name, j in journals.items():  # the plot's evidence, in the journal: each condition of the expected alert
        assert j["schema"] >= 2 and Path(j["plot"]).is_file(), name
        window = (j["marks"]["t_inject"]["t"], j["marks"]["t_mitigated"]["t"])
        held_before = []
        for cond in j["series"]["rules"][next(iter(j["alerts"]))]:
            points = [(t, v) for s in cond["series"] for t, v in s["points"] if v is not None]
            during = [v for t, v in points if window[0] <= t <= window[1]]
            before = [v for t, v in points if t < window[0]]
            assert any(holds[cond["op"]](v, cond["threshold"]) for v in during), (name, cond["query"], "holds in")
            held_before.append(bool(before) and holds[cond["op"]](before[-1], cond["threshold"]))
        # a long window may still hold an earlier drill's errors; the rule as a whole did not hold before the fault
        assert not all(held_before), (name, "the rule held before the fault")
        # Locust's history: a row a second, stamped in whole seconds (its loop runs a little over a second, so a
        # stamp is skipped now and then). Up to three rows of the drill's window may be missing: a skipped stamp, the
        # newest (perhaps not written yet when the verdict reads it), and the first after the drill reset Locust's
        # statistics when it bears the reset's own second (its rate counts from the reset, in whole seconds too)
        served = next(p["start"] for p in j["phases"] if p["phase"] == "verdict") - j["marks"]["t_steady"]["t"]
        stamps = [p["t"] for p in j["load"]["history"]]
        assert len(stamps) >= int(served) - 3, (name, served, stamps)
        assert all(0.5 <= b - a <= 2.0 for a, b in zip(stamps, stamps[1:], strict=False)), (name, stamps)
        assert j["stack"]["prometheus"][0].isdigit()
    assert {j["load"]["log"] for j in journals.values()} == {str(run.reports / "load/session/locust.log")}, \
        "one Locust served the session's drills"
    assert all(j["load"]["shared"] and Path(j["load"]["csv"]).is_file() for j in journals.values())
    env = (run.allure / "environment.properties").read_text()
    assert "target=lab" in env and "Prometheus=" in env and (run.allure / "categories.json").is_file()


def test_back_to_back_outages_each_page(run_gameday):
    """The hand-written p1 drills: a repeat outage pages again, from a clean slate or as a flapping service."""
    run = run_gameday("-m", "p1", "-k", "not test_drill", "--time-scale", "60")
    assert run.proc.returncode == 0, run.out
    assert "2 passed" in run.out
    journals = [json.loads(p.read_text()) for p in sorted((run.reports / "drills").glob("*.json"))]
    assert [j["scenario"] for j in journals].count("service-outage") == 3
    flapping = next(j for j in journals if j["scenario"] == "service-flapping")
    assert flapping["verdict"] == "PASS"
    assert flapping["alert_groups"]["ServiceDown"]["at the fault"]["state"] == "lingering"
    cleared = [j for j in journals if "t_alerting_reset" in j["marks"]]
    assert cleared and all(j["alert_groups"]["ServiceDown"]["at the fault"]["state"] == "new" for j in cleared)


BREAKS = {  # drill -> (its alert, the rule file, a threshold it can never cross)
    "high-error-rate": ("HighErrorRate", "inference.yml", "> 0.05", "> 1.05"),  # a ratio never exceeds 100%
    "service-outage": ("ServiceDown", "inference.yml", "== 0", "== 2"),  # up is 0 or 1
    "latency-degradation": ("SLOLatencyP99Violation", "inference.yml", ") > 0.5", ") > 500"),  # no wait of 500 s
    "traffic-surge": ("ModelBackendSaturated", "inference.yml", "> 0.9", "> 1.5"),  # no slot is busier than always
    "cpu-exhaustion": ("HighCPUUsage", "resources.yml", "> 0.8", "> 8"),  # the quota caps use at 1
    "memory-exhaustion": ("HighMemoryUsage", "resources.yml", "> 0.9", "> 9"),  # the limit caps the working set
}
REFUSED_IN_PREFLIGHT = {"high-error-rate"}
"""A ratio threshold above the fault's error share is refused before the fault (``ratewindow``); the others are
thresholds preflight cannot judge, so the drill injects and waits, and the alert never fires."""


def test_the_p1_catalog_drills_pass_each_alert_at_its_receiver(run_gameday):
    """Slow is not down, overloaded is not down, and a slow burn pages while its budget leak opens a ticket (two
    alerts, two receivers)."""
    run = run_gameday("-m", "p1", "-k", "test_drill", "--time-scale", "60")
    assert run.proc.returncode == 0, run.out
    journals = run.journals()
    assert set(journals) == {"latency-degradation", "slo-slow-burn", "traffic-surge", "cpu-exhaustion",
                             "memory-exhaustion", "cpu-runaway-runbook", "latency-runbook"}
    assert all(j["verdict"] == "PASS" for j in journals.values()), [j["reasons"] for j in journals.values()]
    burn = journals["slo-slow-burn"]["alerts"]
    assert burn["SLOAvailabilitySlowBurn"]["receiver"] == "pager" and burn["SLOAvailabilityBudgetTicket"]["receiver"] \
        == "ticket"
    assert all(a["sla_met"] for a in burn.values())
    assert burn["SLOAvailabilitySlowBurn"]["timings"]["mttr"] is not None
    assert burn["SLOAvailabilityBudgetTicket"]["timings"]["mttr"] is None, "a ticket's resolution is not awaited"
    # the longest drill runs first, on a lab a few seconds old: it waits for its quiet fast-burn alert's 1h (1m)
    # window to fill, so noise cannot fire it; its own 6h (6m) windows are still young, and it says so
    notes = [e["note"] for e in journals["slo-slow-burn"]["events"] if e.get("event") == "note"]
    assert any(n.startswith("young windows: SLOAvailabilityFastBurn (quiet): the 1m00s error ratio") and "waiting"
               in n for n in notes), notes
    floors = journals["slo-slow-burn"]["floors"]
    warm = floors["expected_ttn_warm:SLOAvailabilitySlowBurn"]
    assert floors["expected_ttn:SLOAvailabilitySlowBurn"] < 0.5 * warm, floors
    assert burn["SLOAvailabilitySlowBurn"]["timings"]["ttn"] < warm
    assert "young windows: slo-slow-burn SLOAvailabilitySlowBurn paged after" in run.out
    rows = [line for line in run.out.splitlines() if "SLOAvailabilitySlowBurn" in line or "BudgetTicket" in line]
    assert any("│ yes │" in r for r in rows) and len([r for r in rows if "│ yes │" in r]) >= 2, rows
    surge = journals["traffic-surge"]
    assert surge["alerts"]["ModelBackendSaturated"]["receiver"] == "chat"
    assert surge["load"]["failures"] == 0, "a surge the backend queues is served, not failed"
    fired = {a["labels"]["alertname"] for n in surge["notifications"] for a in n["payload"]["alerts"]}
    assert fired == {"ModelBackendSaturated"}, "latency, errors and ServiceDown stay quiet in a surge"
    runaway = journals["cpu-runaway-runbook"]  # runbook 004's commands found and stopped the workers themselves
    steps = [e["note"] for e in runaway["events"] if e.get("event") == "note" and e["note"].startswith("runbook ")]
    assert len(steps) == 3 and all("(exit 0," in s for s in steps), steps
    slow = journals["latency-runbook"]  # runbook 005's commands took the path's delay away, with the fault still in
    steps = [e["note"] for e in slow["events"] if e.get("event") == "note" and e["note"].startswith("runbook ")]
    assert len(steps) == 3 and all("(exit 0," in s for s in steps), steps
    assert slow["alerts"]["SLOLatencyP99Violation"]["timings"]["mttr"] is not None
    for drill, alert in (("cpu-exhaustion", "HighCPUUsage"), ("memory-exhaustion", "HighMemoryUsage"),
                         ("cpu-runaway-runbook", "HighCPUUsage")):
        j = journals[drill]
        assert j["alerts"][alert]["receiver"] == "chat" and j["alerts"][alert]["timings"]["mttr"] is not None
        # the stress is bounded by the backend's cgroup: the harness's own timers keep time meanwhile
        lag = j["timer_lag"]
        assert lag["p99_ms"] < 20 and lag["max_ms"] < 100, lag
        phases = {p["phase"]: p for p in j["phases"]}  # and it woke all along, from the fault to its revert
        span = phases["recover"]["end"] - phases["inject"]["start"]
        assert lag["samples"] >= 0.8 * span / (lag["interval_ms"] / 1000) and lag["samples"] > 50, (lag, span)


SLO_BREAKS = {  # alert -> (a threshold it can never cross at the drills' failure shares, a variant's SLA)
    "SLOAvailabilityFastBurn": ("(14.4 * 0.005)", "(144 * 0.005)", "3m"),  # 72% errors
    "SLOAvailabilitySlowBurn": ("(6 * 0.005)", "(60 * 0.005)", "6m"),  # 30%
    "SLOAvailabilityBudgetTicket": ("> 0.005\n", "> 0.5\n", "16m"),  # 50%
}


def test_broken_slo_rules_make_their_drills_fail(run_gameday, tmp_path):
    """Each burn-rate alert with its threshold above the fault's error share: its drill FAILs in preflight,
    before any fault. The variants expect one alert each (with the smallest SLA at or above its floor, so that
    a rule preflight could not judge would still fail fast, as 'never fired')."""
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(ROOT / "config/prometheus/rules/inference.yml", rules)
    text = (ROOT / "config/prometheus/rules/slo.yml").read_text()
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for alert, (old, new, within) in SLO_BREAKS.items():
        assert text.count(old) == 2, (alert, old)
        text = text.replace(old, new)
        source = "slo-fast-burn" if alert == "SLOAvailabilityFastBurn" else "slo-slow-burn"
        variant = yaml.safe_load((ROOT / f"scenarios/{source}.yaml").read_text())
        variant["id"] = f"broken-{alert.lower()}"
        variant["expect"] = [{"alert": alert, "receiver": "ticket" if "Ticket" in alert else "pager",
                              "within": within}]
        (scenarios / f"{variant['id']}.yaml").write_text(yaml.safe_dump(variant))
    (rules / "slo.yml").write_text(text)
    run = run_gameday("-k", "test_drill", "--scenarios", str(scenarios), "--rules", str(rules), "--time-scale", "60")
    assert run.proc.returncode == 1, run.out
    journals = run.journals()
    assert len(journals) == 3
    for alert in SLO_BREAKS:
        j = journals[f"broken-{alert.lower()}"]
        assert j["verdict"] == "FAIL" and j["reasons"][0].startswith(f"preflight: {alert}: at "), j["reasons"]
        assert "cannot be expected to fire" in j["reasons"][0] and "t_inject" not in j["marks"]


def broken_rules(tmp_path: Path, *drills: str) -> Path:
    """The lab's rules with the threshold of each of ``drills``' alerts out of reach."""
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    for src in (ROOT / "config/prometheus/rules").glob("*.yml"):
        shutil.copy(src, rules)
    for drill in drills or ("high-error-rate",):
        alert, name, old, new = BREAKS[drill]
        text = (rules / name).read_text()
        assert text.count(old) == 1, (alert, old)
        (rules / name).write_text(text.replace(old, new))
    return rules


def test_every_rule_is_drilled_by_a_catalog_scenario():
    """The broken-rule drills below cover every alerting rule there is."""
    from gameday.cli.check import alerting_rules

    names = {r.name for r in alerting_rules(ROOT / "config/prometheus/rules", ROOT, 60.0)}
    assert names == {b[0] for b in BREAKS.values()} | set(SLO_BREAKS)


def test_each_broken_rule_makes_its_drill_fail(run_gameday, tmp_path):
    """Every catalog drill's alert with its threshold out of reach, in one run on two pytest-xdist workers, each
    with a lab of its own: a ratio preflight can judge is refused before any fault; the others inject, wait out
    their SLA, FAIL as 'never fired', and revert. The controller's summary has every drill's FAIL."""
    run = run_gameday("-k", " or ".join(sorted(BREAKS)), "--time-scale", "60", "-n", "2",
                      "--rules", str(broken_rules(tmp_path, *BREAKS)), timeout=600)
    assert run.proc.returncode == 1, run.out
    journals = run.journals()
    assert set(journals) == set(BREAKS), run.out
    assert len({j["run"] for j in journals.values()}) == 1, "the workers' journals are one run"
    assert (run.reports / "lab-gw0").is_dir() and (run.reports / "lab-gw1").is_dir(), "a lab per worker"
    assert not (run.reports / "lab").exists()
    summary = run.out.split("gameday summary", 1)[1]
    assert all(f"│ {drill} " in summary for drill in BREAKS), summary
    assert sorted(r["status"] for r in run.allure_results()) == ["failed"] * len(BREAKS)
    ledger = [json.loads(line) for line in (run.reports / "fault-ledger.jsonl").read_text().splitlines()]
    for drill, (alert, *_) in BREAKS.items():
        j = journals[drill]
        assert j["verdict"] == "FAIL", (drill, j["reasons"])
        if drill in REFUSED_IN_PREFLIGHT:
            assert (f"FAIL: preflight: {alert}: at 100% of requests failing the 5.0s error ratio > 1.05 averages 1, "
                    "not above its threshold: the alert cannot be expected to fire") in run.out
            assert "t_inject" not in j["marks"], "refused before any fault"
            continue
        assert f"{drill} FAIL: {alert} never fired within" in summary, drill  # the workers' output is not shown
        assert "never fired" in j["reasons"][0] and "t_inject" in j["marks"] and "t_notified" not in j["marks"]
    kinds = {journals[d]["fault"]["kind"] for d in BREAKS if d not in REFUSED_IN_PREFLIGHT}
    assert {e["kind"] for e in ledger if e["state"] == "injecting"} == kinds, "only the drills not refused injected"
    opened = {e["id"] for e in ledger if e["state"] == "injecting"}
    assert opened == {e["id"] for e in ledger if e["state"] == "reverted"}, "every fault reverted after its FAIL"


def test_an_sla_or_intensity_that_cannot_pass_is_flagged_in_preflight(run_gameday, tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (ROOT / "scenarios/service-outage.yaml").read_text()
    (scenarios / "too-fast.yaml").write_text(text.replace("within: 1m", "within: 20s"))
    burn = (ROOT / "scenarios/slo-fast-burn.yaml").read_text()
    assert "percent: 20" in burn
    (scenarios / "too-weak.yaml").write_text(burn.replace("percent: 20", "percent: 4"))  # 4% < 7.2%: never
    run = run_gameday("-k", "test_drill", "--scenarios", str(scenarios), "--time-scale", "60")
    assert run.proc.returncode == 1, run.out
    assert "preflight: the SLA of 333ms for ServiceDown is below the pipeline's floor" in run.out
    assert ("preflight: SLOAvailabilityFastBurn: at 4% of requests failing the 1m00s error ratio > 0.072 averages "
            "0.04, not above its threshold: the alert cannot be expected to fire") in run.out
    for name in ("service-outage", "slo-fast-burn"):
        j = run.journals()[name]
        assert j["verdict"] == "FAIL" and "t_inject" not in j["marks"], "no fault for a drill that cannot pass"


def test_a_route_to_the_wrong_receiver_is_flagged(run_gameday, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    text = (ROOT / "config/prometheus/rules/inference.yml").read_text()
    head, tail = text.split("alert: HighErrorRate", 1)
    tail = tail.replace("severity: critical", "severity: warning", 1)  # this alert now goes to chat
    (rules / "inference.yml").write_text(head + "alert: HighErrorRate" + tail)
    run = run_gameday("-k", "high-error-rate", "--time-scale", "60", "--rules", str(rules))
    assert run.proc.returncode == 1, run.out
    assert "HighErrorRate's labels route to chat, not pager" in run.out


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
    proc = subprocess.Popen(gameday_argv(tmp_path, "-k", "test_drill and service-outage", "--time-scale", "60"),
                            cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "▸ verdict" in line:
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    out = "".join(seen) + rest
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


def drill_until_detect(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(gameday_argv(tmp_path, *args), cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    seen: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "▸ detect" in line or time.monotonic() > deadline:
            break
    assert any("▸ detect" in line for line in seen), "".join(seen)
    return proc, seen


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
    run = run_gameday("-k", "service-outage", "--time-scale", "60", "--error-budget-gate", "always",
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
                           "-k", "gateway-down-runbook", "--time-scale", "60"],
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


def test_a_crashed_worker_leaves_every_other_result_and_its_drill_reads_error_everywhere(tmp_path):
    """kill -9 of a ``-n 2`` worker mid-drill: pytest-xdist starts a new worker, which once ran --clean-alluredir
    again and wiped the passed drills' results; the dead drill had no journal, summary row or result at all."""
    proc = subprocess.Popen(gameday_argv(tmp_path, "-n", "2", "-k", "test_drill and (high-error-rate or "
                                         "service-outage or gateway-down-runbook)", "--time-scale", "60",
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
