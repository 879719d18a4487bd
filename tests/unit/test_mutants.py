"""The mutants of the lab's alerting, before any drill runs: each one change on a copy (the config folder itself
untouched), each knowing the alerts it touches; and how drills' journals judge a mutant. (promtool and amtool on
mutants: ``tests/integration/test_mutate.py``.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from gameday.mutate.mutants import Mutant
from gameday.mutate.run import Result, Run, catalog, caught_by, judge, mutants_of, render
from gameday.pipeline.routing import matched_paths
from tests.conftest import ROOT

CONFIG = ROOT / "config"


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def lab():
    cat = catalog(ROOT, CONFIG, ROOT / "scenarios")
    return cat, {m.id: m for m in mutants_of(ROOT, CONFIG, cat)}


def test_each_mutant_is_one_change_on_a_copy_and_the_config_is_untouched(lab, tmp_path):
    _, mutants = lab
    before = digest(CONFIG)
    m = mutants["HighErrorRate:threshold-x10"]
    copy = m.apply(CONFIG, tmp_path / "config")
    rules = yaml.safe_load((copy / "prometheus" / "rules" / "inference.yml").read_text())
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "HighErrorRate")
    assert rule["expr"].rstrip().endswith("> 0.5") and m.diff.endswith("> 0.05 -> > 0.5")
    original = yaml.safe_load((CONFIG / "prometheus" / "rules" / "inference.yml").read_text())
    others = [r for g in original["groups"] for r in g["rules"] if r.get("alert") != "HighErrorRate"]
    assert others == [r for g in rules["groups"] for r in g["rules"] if r.get("alert") != "HighErrorRate"]
    assert digest(CONFIG) == before, "the config folder itself is never written"


def test_the_lab_has_every_operator_and_each_route_knows_the_alerts_it_takes(lab):
    cat, mutants = lab
    ops = {m.operator for m in mutants.values()}
    assert {"threshold x10", "threshold /10", "comparison flipped", "for past the SLA", "matcher removed",
            "matcher misspelled", "severity changed", "severity dropped", "range windows x10",
            "aggregation by changed", "never fires", "receiver swapped", "matcher changed", "continue toggled",
            "route muted", "group_wait past the SLA", "receiver URL broken"} <= ops
    pager = mutants["route-0:receiver-swapped"]
    assert "ServiceDown" in pager.alerts and "HighCPUUsage" not in pager.alerts
    assert mutants["ServiceDown:for-past-the-SLA"].delay > cat.slas["ServiceDown"]


def test_an_alert_goes_down_the_route_whose_matchers_it_has():
    tree = {"routes": [{"matchers": ['severity="critical"'], "routes": [{"matchers": ['team="x"']}]},
                       {"matchers": ['severity="warning"']}]}
    assert matched_paths({'route': tree}, {"severity": "critical", "team": "x"}) == [(0,), (0, 0)]
    assert matched_paths({'route': tree}, {"severity": "warning"}) == [(1,)]
    assert matched_paths({'route': tree}, {"severity": "info"}) == []


def _m(alerts=("ServiceDown",), operator="never fires", delay=0.0):
    return Mutant("m", "rule", operator, "w", "a", "b", list(alerts), None, delay)


def test_a_drill_failing_on_the_mutated_alert_kills_it_and_an_error_is_never_a_kill():
    fail = {"verdict": "FAIL", "reasons": ["ServiceDown never fired within 2.3s of the fault"]}
    other = {"verdict": "FAIL", "reasons": ["HighErrorRate fired, but it is on the quiet list"]}
    error = {"verdict": "ERROR", "reasons": ["the watchdog took the fault out"]}
    passed = {"verdict": "PASS", "reasons": []}
    assert judge(_m(), {"service-outage": fail})[0] == "killed"
    assert judge(_m(), {"service-outage": passed, "gateway-down-runbook": fail})[0] == "killed"
    assert judge(_m(), {"service-outage": other})[0] == "error", "a FAIL for another reason is not a kill"
    assert judge(_m(), {"service-outage": error})[0] == "error"
    assert judge(_m(), {"service-outage": passed})[0] == "survived"
    assert judge(_m(), {})[0] == "error", "no journal: the drills did not run"


def test_the_score_leaves_out_the_uncovered_and_invalid_and_counts_an_error_against(lab):
    cat, _ = lab
    run = Run([Result(_m(), "killed"), Result(_m(), "killed"), Result(_m(), "survived", why="x"),
               Result(_m(), "error"), Result(_m(), "uncovered"), Result(_m(), "invalid")], 1.0)
    assert run.score == 50.0 and run.counts()["uncovered"] == 1
    assert "score 50%: 2 killed, 1 survived, 1 error, 1 uncovered, 1 invalid" in render(run)
    slow = _m(operator="for past the SLA", delay=300)
    assert "delays the page by 300s" in caught_by(slow, cat)
