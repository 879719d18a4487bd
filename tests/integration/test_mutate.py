"""``gameday mutate`` drilling mutants of the lab's alerting: a mutant the drills kill (the rule can never fire:
its drills FAIL naming the alert), one that survives (a matcher removed that no drill can tell apart), with what
would have caught it, a mutant no scenario covers, and the checkers' verdicts on mutants. Each drill runs on a lab
of its own at the shared time scale; the project's config is never written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameday.core.errors import HarnessError
from gameday.lab.reload import fresh_alerting
from gameday.lab.stack import Lab, LabConfig
from gameday.mutate.mutants import Mutant, _rule_change
from gameday.mutate.run import catalog, invalid, mutants_of
from tests.conftest import ROOT
from tests.integration.conftest import SHARED_SCALE, gameday_env
from tests.unit.test_mutants import digest

CONFIG = ROOT / "config"


def mutate(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    done = subprocess.run([sys.executable, "-m", "gameday.cli", "mutate", "--root", str(ROOT), "--reports",
                           str(tmp_path / "reports"), "--time-scale", SHARED_SCALE, *args], env=gameday_env(),
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    out = tmp_path / "reports" / "mutate.json"
    return done, json.loads(out.read_text()) if out.exists() else {}


def test_two_workers_kill_the_rule_mutants_a_drill_can_tell_and_a_survivor_says_what_would_catch_it(tmp_path):
    """The eight mutants of ServiceDown on two labs side by side, each lab started once and made fresh before each
    drill: a rule that can never fire, or that fires for a healthy gateway, is killed by its first drill (the
    second is not run); a matcher removed survives, saying what would have caught it; the score is below 90, so
    the nightly run goes red; the project's config is never written."""
    before = digest(CONFIG)
    scenarios = tmp_path / "scenarios"  # the two drills that expect ServiceDown (the others keep it quiet)
    scenarios.mkdir()
    for sid in ("service-outage", "gateway-down-runbook"):
        shutil.copy(ROOT / "scenarios" / f"{sid}.yaml", scenarios)
    done, report = mutate(tmp_path, "--scenarios", str(scenarios), "-k", "ServiceDown:", "--workers", "2",
                          "--min-score", "90")
    assert done.returncode == 1, done.stdout + done.stderr
    by_id = {m["id"]: m for m in report["mutants"]}
    assert len(by_id) == 8 and report["baseline"] == {"service-outage": "PASS", "gateway-down-runbook": "PASS"}, report
    never = by_id["ServiceDown:never-fires"]
    assert never["outcome"] == "killed" and list(never["drills"].values()) == ["FAIL"], never
    assert "ServiceDown never fired" in never["why"], never
    flipped = by_id["ServiceDown:comparison-flipped"]
    assert flipped["outcome"] == "killed" and "kept firing" in flipped["why"] and "before any fault" in flipped["why"]
    removed = by_id["ServiceDown:matcher-removed"]
    assert removed["outcome"] == "survived" and set(removed["drills"].values()) == {"PASS"}, removed
    assert len(removed["drills"]) == 2 and removed["why"] in done.stdout
    assert "survivors (what would have caught each):" in done.stdout
    assert "score below --min-score 90" in done.stdout
    lines = [json.loads(line) for f in (tmp_path / "reports" / "mutants").glob("session-*/results.jsonl")
             for line in f.read_text().splitlines()]
    sessions = {f.parent.name for f in (tmp_path / "reports" / "mutants").glob("session-*/results.jsonl")
                if f.read_text().strip()}
    assert len(sessions) == 2, "both workers drilled"
    owners = {}
    for f in (tmp_path / "reports" / "mutants").glob("session-*/results.jsonl"):
        for line in f.read_text().splitlines():
            owners.setdefault(json.loads(line)["mutant"], set()).add(f.parent.name)
    assert all(len(o) == 1 for o in owners.values()), f"each mutant is one session's: {owners}"
    skipped = [ln for ln in lines if ln["mutant"] == "ServiceDown:never-fires" and ln["verdict"] == "NOT RUN"]
    assert len(skipped) == 1 and skipped[0]["reasons"][0].startswith("killed by "), lines
    assert digest(CONFIG) == before, "the project's config is never written"


def test_a_mutant_of_a_rule_no_scenario_expects_is_uncovered_and_not_scored(tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (ROOT / "scenarios" / "high-error-rate.yaml").read_text()  # without its quiet list: no ServiceDown
    (scenarios / "high-error-rate.yaml").write_text(text.replace("quiet: [ServiceDown]\n", ""))
    done, report = mutate(tmp_path, "--scenarios", str(scenarios), "-k", "ServiceDown:never-fires")
    assert done.returncode == 0, done.stdout + done.stderr
    (m,) = report["mutants"]
    assert m["outcome"] == "uncovered" and m["drills"] == {} and report["score"] is None, m
    assert "no scenario expects ServiceDown or lists it as quiet" in m["why"], m


@pytest.mark.parametrize("mid", ["ServiceDown:comparison-flipped", "SLOLatencyP99Violation:aggregation-by-changed",
                                 "route-0:route-muted", "route-0:group_wait-past-the-SLA",
                                 "HighErrorRate:range-windows-x10", "route-0:receiver-URL-broken"])
def test_a_mutant_promtool_and_amtool_accept_is_valid(mid):
    mutants = {m.id: m for m in mutants_of(ROOT, CONFIG, catalog(ROOT, CONFIG, ROOT / "scenarios"))}
    assert invalid(mutants[mid], CONFIG, ROOT) is None


def test_a_mutant_promtool_refuses_is_invalid_saying_why():
    broken = Mutant("x", "rule", "broken", "w", "a", "b", ["ServiceDown"],
                    _rule_change(Path("prometheus/rules/inference.yml"), 0, 0, lambda r: r.__setitem__("expr", "sum(")))
    assert "parenthesis" in invalid(broken, CONFIG, ROOT)


def test_fresh_alerting_loads_another_config_into_a_running_lab_and_forgets_every_earlier_series(tmp_path):
    """What a mutation worker does before each drill: Prometheus reloads (the same process) with rule files of
    new names and no series up to now, Alertmanager starts again with no data, and the gateway is not touched."""
    copy = tmp_path / "config"
    shutil.copytree(CONFIG, copy)
    rules = copy / "prometheus" / "rules" / "inference.yml"
    rules.write_text(rules.read_text().replace("for: 30s", "for: 7m", 1))
    with Lab(LabConfig(ROOT, tmp_path / "lab", time_scale=60, admin_api=True)) as lab:
        def held() -> int:  # the most samples of `up` any target has (a scrape every 83 ms at this scale)
            return max((int(float(r["value"][1])) for r in lab.prometheus.query("count_over_time(up[1h])")),
                       default=0)

        deadline = time.monotonic() + 30
        while held() < 150 and time.monotonic() < deadline:  # over 12 s of history
            time.sleep(0.2)
        before = held()
        assert before >= 150, "history to forget"
        pids = {n: lab.supervisor.pid(n) for n in ("prometheus", "alertmanager", "inference-gateway")}
        took = fresh_alerting(lab, copy)
        assert took < 10, took
        assert lab.prometheus.alerting_rules()["ServiceDown"].for_s == pytest.approx(7)  # 7m at scale 60
        assert lab.supervisor.pid("prometheus") == pids["prometheus"], "reloaded, not restarted"
        assert lab.supervisor.pid("inference-gateway") == pids["inference-gateway"]
        assert lab.supervisor.pid("alertmanager") != pids["alertmanager"], "Alertmanager starts with no data"
        assert all("-" in p.stem for p in (tmp_path / "lab" / "config" / "rules").glob("*.yml"))
        assert held() < 0.75 * before, "no series from before the reload: only the scrapes since"
        assert lab.alertmanager.groups() == [] and lab.alertmanager.aggregation_groups() in (0, None)
    with Lab(LabConfig(ROOT, tmp_path / "plain", time_scale=60)) as plain, pytest.raises(HarnessError):
        fresh_alerting(plain, copy)
