"""The mutants of the lab's alerting, before any drill runs: each one change on a copy (the config folder itself
untouched), each knowing the alerts it touches; and how drills' journals judge a mutant. (promtool and amtool on
mutants: ``tests/integration/test_mutate.py``.)"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from gameday.mutate.mutants import Mutant
from gameday.mutate.report import render, write_allure, write_json
from gameday.mutate.run import Result, Run, catalog, caught_by, covering, equivalent, judge, mutants_of, scale_classes
from gameday.mutate.workers import Job, plans
from gameday.pipeline.routing import matched_paths
from gameday.report.review import write_review
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
    # a rule's mutant is drilled by the drills that expect its alert and those that keep it quiet, shortest first
    drills = covering(mutants["ServiceDown:matcher-removed"], cat)
    assert {"service-outage", "gateway-down-runbook", "backend-down-runbook"} <= set(drills)
    assert drills == sorted(drills, key=lambda s: (cat.length[s], s))
    route = covering(mutants["route-0:receiver-swapped"], cat)  # a route's: the drills that expect its alerts
    assert "service-outage" in route and "latency-degradation" not in route, route
    burn = mutants["SLOAvailabilityFastBurn:threshold-x10"]  # a threshold written as a product in parentheses
    assert (burn.before, burn.after) == ("> (14.4 * 0.005)", "> (14.4 * 0.005 * 10)"), burn
    # its comparison is the short window's, the last side of an `and`: a survivor says the other side held it
    assert burn.gated and not mutants["HighErrorRate:threshold-div10"].gated
    assert "last side of an `and`" in caught_by(mutants["SLOAvailabilityFastBurn:threshold-div10"], cat)


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
    # a drill that fails on the config as it is kills no mutant, whatever it says
    outcome, why = judge(_m(), {"service-outage": fail}, baseline={"service-outage": "FAIL"})
    assert outcome == "error" and "FAIL on the config as it is: it judges no mutant" in why, why
    assert judge(_m(), {"service-outage": fail}, baseline={"service-outage": "PASS"})[0] == "killed"


def test_the_score_leaves_out_the_uncovered_and_invalid_and_counts_an_error_against(lab):
    cat, _ = lab
    run = Run([Result(_m(), "killed"), Result(_m(), "killed"), Result(_m(), "survived", why="x"),
               Result(_m(), "error"), Result(_m(), "uncovered"), Result(_m(), "equivalent"),
               Result(_m(), "invalid")], 1.0)
    assert run.score == 50.0 and run.counts()["uncovered"] == 1
    assert "score 50%: 2 killed, 1 survived, 1 error, 1 uncovered, 1 equivalent, 1 invalid" in render(run)
    slow = _m(operator="for past the SLA", delay=300)
    assert "delays the page by 300s" in caught_by(slow, cat)


def test_a_route_mutant_that_routes_every_alert_as_before_is_equivalent_and_one_that_moves_one_is_not(lab):
    cat, mutants = lab
    # route 0 (pager) is followed by routes no critical alert matches: continue changes nothing
    assert "equivalent: each of the 9 alerts is routed as before" in equivalent(mutants["route-0:continue-toggled"],
                                                                            CONFIG, cat)
    # warnings that miss route 1 (chat) fall to the root's receiver, chat, with the same timers
    assert equivalent(mutants["route-1:matcher-changed"], CONFIG, cat) is not None
    for mid in ("route-0:receiver-swapped", "route-0:matcher-changed", "route-2:matcher-changed"):
        assert equivalent(mutants[mid], CONFIG, cat) is None, mid
    for mid in ("route-0:route-muted", "route-0:receiver-URL-broken", "ServiceDown:never-fires"):
        assert equivalent(mutants[mid], CONFIG, cat) is None, f"{mid}: its effect is not only where alerts go"


def test_a_mutant_whose_matcher_reads_a_label_no_rule_sets_is_never_called_equivalent(lab, tmp_path):
    cat, mutants = lab
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    am = config / "alertmanager" / "alertmanager.yml"
    am.write_text(am.read_text().replace("""    - matchers: ['severity="info"']""",
                                         """    - matchers: ['severity="info"', 'instance=~".+"']"""))
    m = mutants_of(ROOT, config, cat)
    toggled = next(x for x in m if x.id == "route-0:continue-toggled")
    assert equivalent(toggled, config, cat) is None, "a series' own label could take an alert down that route"


def test_every_worker_gets_the_whole_list_to_claim_from_and_a_batch_is_a_session_of_its_own():
    jobs = [Job(_m(), ["a", "b"], Path(f"/c{i}")) for i in range(5)]
    assert [len(p) for p in plans(jobs, 2)] == [5, 5]
    assert [len(p) for p in plans(jobs[:1], 3)] == [1]
    assert [[j.config.name for j in p] for p in plans(jobs, 2, batch=2)] == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    job = jobs[0]
    job.verdicts = {"a": {"verdict": "FAIL", "started": 1.0, "ended": 3.5},
                    "b": {"verdict": "NOT RUN", "started": 3.5, "ended": 3.5}}
    assert job.complete and job.seconds == 2.5 and list(job.journals()) == ["a"]


def test_the_result_reaches_the_review_and_allure_a_survivor_as_failed_and_a_kill_as_passed(tmp_path):
    killed = Result(_m(), "killed", {"service-outage": "FAIL"}, "service-outage: ServiceDown never fired", 3.0)
    kept = Result(Mutant("ServiceDown:matcher-removed", "rule", "matcher removed", "prometheus/rules/x.yml: "
                         "ServiceDown", '{job="g"}', "{}", ["ServiceDown"]), "survived", {"service-outage": "PASS"},
                  "no drill lists it as <quiet>")
    same = Mutant("route-0:continue-toggled", "route", "continue toggled", "alertmanager.yml: route 0 (pager)",
                  "continue: false", "continue: true", ["ServiceDown"])
    run = Run([killed, kept, Result(same, "equivalent", why="routed as before")], 12.0,
              baseline={"service-outage": "PASS", "slo-slow-burn": "ERROR"})
    write_json(run, tmp_path / "reports" / "mutate.json")
    md, html = write_review(tmp_path / "reports", tmp_path / "review", ROOT)
    text = md.read_text()
    assert "## Mutation testing" in text and "score **50%**" in text, text
    assert '**survived**: `prometheus/rules/x.yml: ServiceDown: {job="g"} -> {}`: no drill lists it as <quiet>' in text
    assert "judge no mutant: slo-slow-burn (ERROR)" in text
    assert "no drill lists it as &lt;quiet&gt;" in html.read_text(), "the HTML escapes what a mutant says"
    assert write_allure(run, tmp_path / "allure") == 3
    found = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    results = {r["fullName"]: r["status"] for r in found}
    assert results == {"gameday.mutate.m": "passed", "gameday.mutate.ServiceDown:matcher-removed": "failed",
                       "gameday.mutate.route-0:continue-toggled": "skipped"}, results


def test_the_long_drills_run_at_their_own_scale_on_labs_of_their_own(lab):
    cat, _ = lab
    drilled = sorted(cat.length)
    scales = scale_classes(cat, drilled, 60.0, 240.0)
    assert {s for s, k in scales.items() if k is not None} == {"slo-slow-burn"}, scales
    assert scales["slo-slow-burn"] == 240.0 and set(scale_classes(cat, drilled, 60.0, None).values()) == {None}
    jobs = [Job(_m(), ["a"], Path(f"/long{i}"), scale=240.0) for i in range(2)] + \
           [Job(_m(), ["b"], Path(f"/short{i}")) for i in range(3)]
    sessions = plans(jobs, 2)  # the long class's first session, the short's first, then the seconds
    assert [(p[0].scale, len(p)) for p in sessions] == [(240.0, 2), (None, 3), (240.0, 2), (None, 3)]
    assert jobs[0].claim.endswith("@240") and "@" not in jobs[2].claim


def test_a_mutant_drilled_in_two_scale_classes_is_judged_once_both_are_in(lab, tmp_path, monkeypatch):
    """FastBurn's never-fires mutant is drilled by slo-slow-burn at the long scale and by the other drills at the
    run's: its outcome waits for both labs, and the long lab's FAIL is what kills it."""
    import gameday.mutate.run as run_module

    handed: list[tuple[str, float | None, list[str]]] = []

    def fake_drill_all(jobs, root, scenarios, work, scale, workers, done, *rest):
        for job in jobs:  # the baseline first, as the sessions do; each drill's line as a session writes it
            for sid in job.scenarios:
                killed = job.mutant.part != "original" and job.scale is not None
                job.verdicts[sid] = {"verdict": "FAIL" if killed else "PASS", "started": 0.0, "ended": 1.0,
                                     "reasons": [f"{job.mutant.alerts[0]} never fired"] if killed else []}
            handed.append((job.mutant.id, job.scale, list(job.scenarios)))
            done(job)

    monkeypatch.setattr(run_module, "drill_all", fake_drill_all)
    monkeypatch.setattr(run_module, "invalid", lambda *a: None)  # promtool is a process: the integration tests'
    said: list[str] = []
    run = run_module.mutate(ROOT, CONFIG, ROOT / "scenarios", tmp_path, "SLOAvailabilityFastBurn:never-fires",
                            60.0, said.append, long_scale=240.0)
    (result,) = run.results
    parts = [(scale, sids) for mid, scale, sids in handed if mid == result.mutant.id]
    assert len(parts) == 2 and {scale for scale, _ in parts} == {None, 240.0}, parts
    assert dict(parts)[240.0] == ["slo-slow-burn"]
    assert result.outcome == "killed" and result.why.startswith("slo-slow-burn:"), result
    assert set(result.drills) == {s for _, sids in parts for s in sids}
    assert run.scales == {"slo-slow-burn": 240.0} and "drilled at time scale 240" in render(run)
    assert sum(1 for line in said if "KILLED" in line) == 1
