"""Whole drills on the real lab, run as a user runs them: ``pytest gamedays/ ...`` in its own process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.integration.conftest import BREAKS, REFUSED_IN_PREFLIGHT, broken_rules


@pytest.mark.whole_machine  # the README's P0 command at scale 60: SLAs of a second
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




P1_RUNS = {  # the P1 catalog in three runs that go side by side under -n, each on a lab of its own
    "burn": ("slo-slow-burn",),
    "not-down": ("latency-degradation", "traffic-surge", "latency-runbook"),
    "resources": ("cpu-exhaustion", "memory-exhaustion", "cpu-runaway-runbook"),
}


def test_the_p1_runs_together_drill_the_whole_p1_catalog():
    from gameday.scenario.loading import load_catalog

    p1 = {e.id for e in load_catalog(ROOT / "scenarios", ROOT) if e.scenario and e.scenario.priority == "p1"}
    drilled = [d for run in P1_RUNS.values() for d in run]
    assert sorted(drilled) == sorted(p1), "a P1 scenario is in none of the P1 runs, or in two"


def p1_drills_pass(run_gameday, part: str) -> tuple[object, dict]:
    drills = P1_RUNS[part]
    run = run_gameday("-m", "p1", "-k", f"test_drill and ({' or '.join(drills)})", "--time-scale", "60")
    assert run.proc.returncode == 0, run.out
    journals = run.journals()
    assert set(journals) == set(drills), sorted(journals)
    assert all(j["verdict"] == "PASS" for j in journals.values()), [j["reasons"] for j in journals.values()]
    return run, journals


def test_a_slow_burn_pages_while_its_budget_leak_opens_a_ticket(run_gameday):
    """Two alerts, two receivers: the slow burn pages, the budget leak opens a ticket."""
    run, journals = p1_drills_pass(run_gameday, "burn")
    burn = journals["slo-slow-burn"]["alerts"]
    assert burn["SLOAvailabilitySlowBurn"]["receiver"] == "pager" and burn["SLOAvailabilityBudgetTicket"]["receiver"] \
        == "ticket"
    assert all(a["sla_met"] for a in burn.values())
    assert burn["SLOAvailabilitySlowBurn"]["timings"]["mttr"] is not None
    assert burn["SLOAvailabilityBudgetTicket"]["timings"]["mttr"] is None, "a ticket's resolution is not awaited"
    # the drill runs on a lab a few seconds old: it waits for its quiet fast-burn alert's 1h (1m) window to fill,
    # so noise cannot fire it; its own 6h (6m) windows are still young, and it says so
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


@pytest.mark.whole_machine  # its CPU stress or surge is measured against the CPU it has
def test_slow_is_not_down_and_overloaded_is_not_down(run_gameday):
    """Latency and a surge page their own alerts at chat, and the outage alerts stay quiet."""
    _, journals = p1_drills_pass(run_gameday, "not-down")
    surge = journals["traffic-surge"]
    assert surge["alerts"]["ModelBackendSaturated"]["receiver"] == "chat"
    assert surge["load"]["failures"] == 0, "a surge the backend queues is served, not failed"
    fired = {a["labels"]["alertname"] for n in surge["notifications"] for a in n["payload"]["alerts"]}
    assert fired == {"ModelBackendSaturated"}, "latency, errors and ServiceDown stay quiet in a surge"
    slow = journals["latency-runbook"]  # runbook 005's commands took the path's delay away, with the fault still in
    steps = [e["note"] for e in slow["events"] if e.get("event") == "note" and e["note"].startswith("runbook ")]
    assert len(steps) == 3 and all("(exit 0," in s for s in steps), steps
    assert slow["alerts"]["SLOLatencyP99Violation"]["timings"]["mttr"] is not None
    assert journals["latency-degradation"]["alerts"]["SLOLatencyP99Violation"]["receiver"] == "chat"


@pytest.mark.whole_machine  # its CPU stress or surge is measured against the CPU it has
def test_cpu_and_memory_stress_page_chat_and_leave_the_harness_on_time(run_gameday):
    """The stress is bounded by the backend's cgroup: the harness's own timers keep time meanwhile."""
    _, journals = p1_drills_pass(run_gameday, "resources")
    runaway = journals["cpu-runaway-runbook"]  # runbook 004's commands found and stopped the workers themselves
    steps = [e["note"] for e in runaway["events"] if e.get("event") == "note" and e["note"].startswith("runbook ")]
    assert len(steps) == 3 and all("(exit 0," in s for s in steps), steps
    for drill, alert in (("cpu-exhaustion", "HighCPUUsage"), ("memory-exhaustion", "HighMemoryUsage"),
                         ("cpu-runaway-runbook", "HighCPUUsage")):
        j = journals[drill]
        assert j["alerts"][alert]["receiver"] == "chat" and j["alerts"][alert]["timings"]["mttr"] is not None
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


