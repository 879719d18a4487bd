"""``gameday mutate`` drilling mutants of the lab's alerting: a mutant the drills kill (the rule can never fire:
its drills FAIL naming the alert), one that survives (a matcher removed that no drill can tell apart), with what
would have caught it, a mutant no scenario covers, and the checkers' verdicts on mutants. Each drill runs on a lab
of its own at the shared time scale; the project's config is never written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_a_rule_that_can_never_fire_is_killed_and_a_removed_matcher_survives_saying_what_would_catch_it(tmp_path):
    before = digest(CONFIG)
    done, report = mutate(tmp_path, "-k", "ServiceDown:never-fires", "--min-score", "100")
    assert done.returncode == 0, done.stdout + done.stderr
    (m,) = report["mutants"]
    assert m["outcome"] == "killed" and set(m["drills"]) == {"service-outage", "gateway-down-runbook"}, m
    assert set(m["drills"].values()) == {"FAIL"} and "ServiceDown" in m["why"], m
    assert "score 100%: 1 killed, 0 survived" in done.stdout
    done, report = mutate(tmp_path, "-k", "ServiceDown:matcher-removed", "--min-score", "90")
    assert done.returncode == 1, done.stdout + done.stderr  # below the bound: the nightly run goes red
    (m,) = report["mutants"]
    assert m["outcome"] == "survived" and set(m["drills"].values()) == {"PASS"}, m
    assert "survivors (what would have caught each):" in done.stdout and m["why"] in done.stdout
    assert "score below --min-score 90" in done.stdout
    assert digest(CONFIG) == before, "the project's config is never written"


def test_a_mutant_of_a_rule_no_scenario_expects_is_uncovered_and_not_scored(tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    shutil.copy(ROOT / "scenarios" / "high-error-rate.yaml", scenarios)
    done, report = mutate(tmp_path, "--scenarios", str(scenarios), "-k", "ServiceDown:never-fires")
    assert done.returncode == 0, done.stdout + done.stderr
    (m,) = report["mutants"]
    assert m["outcome"] == "uncovered" and m["drills"] == {} and report["score"] is None, m
    assert "no scenario expects ServiceDown" in m["why"]


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
