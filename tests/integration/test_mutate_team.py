"""``gameday mutate --target shop`` on a team's stack the tests start (nginx with its exporter, and a Prometheus and
an Alertmanager gameday does not own): the team's rules and routes read from their APIs, each mutant drilled on a
shadow pair gameday starts on loopback, and the team's monitoring left as it was, byte for byte."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from urllib.parse import urlsplit

from tests.integration.conftest import gameday_env
from tests.integration.teamproject import team_project
from tests.integration.teamstack import team_stack


def _team_state(stack) -> dict:
    """What the team's monitoring is: its config files' bytes, what each server says it loaded and when, and its
    silences."""
    http = stack.session()
    prom, am = stack.url("prom"), stack.url("am")
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(stack.folder.glob("*.yml"))}
    rules = http.get(f"{prom}/api/v1/rules", timeout=5).json()["data"]["groups"]
    for group in rules:  # what changes by itself with every evaluation
        group.pop("lastEvaluation", None)
        group.pop("evaluationTime", None)
        for rule in group["rules"]:
            for key in ("lastEvaluation", "evaluationTime", "health", "state", "alerts", "activeAt", "lastError"):
                rule.pop(key, None)

    def gauge(url: str, name: str) -> str:
        text = http.get(f"{url}/metrics", timeout=5).text
        return next(line for line in text.splitlines() if line.startswith(name + " "))

    return {"files": files, "rules": rules,
            "prom config": http.get(f"{prom}/api/v1/status/config", timeout=5).json()["data"]["yaml"],
            "prom reloaded": gauge(prom, "prometheus_config_last_reload_success_timestamp_seconds"),
            "am config": http.get(f"{am}/api/v2/status", timeout=5).json()["config"]["original"],
            "am reloaded": gauge(am, "alertmanager_config_last_reload_success_timestamp_seconds"),
            "silences": http.get(f"{am}/api/v2/silences", timeout=5).json()}


def test_mutants_of_a_teams_alerting_run_on_a_shadow_pair_and_leave_its_monitoring_as_it_was(tmp_path):
    """Two mutants of the team's rules: the one that can never fire is killed (its drill FAILs naming the alert),
    a threshold no drill looks at survives, and the score below --min-score exits 1. Every drill ran on the pair
    (its pages proved delivered at gameday's webhook, each journal saying so); the team's config files, loaded
    configs, reload times and silences are what they were, and its pager heard only its own Alertmanager."""
    stack = team_stack(tmp_path / "stack")
    try:
        mutate_and_compare(tmp_path, stack)
    finally:
        stack.stop()


def mutate_and_compare(tmp_path, stack) -> None:
    project = team_project(tmp_path, stack)
    before = _team_state(stack)
    done = subprocess.run([sys.executable, "-m", "gameday.cli", "mutate", "--target", "shop", "-k",
                           "ShopDown:never-fires", "-k", "ShopSlow:threshold-x10", "--min-score", "90",
                           "--error-budget-override", "a stack the test started, with no users"],
                          cwd=project, env=gameday_env(), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "2 alerting rule(s) in 1 group(s), 1 scrape job(s) with 1 target(s)" in out, out
    assert "one session at a time on shop" in out, out
    report = json.loads((project / "reports" / "mutate.json").read_text())
    by_id = {m["id"]: m for m in report["mutants"]}
    assert report["baseline"] == {"shop-down": "PASS"}, report
    never = by_id["ShopDown:never-fires"]
    assert never["outcome"] == "killed" and "ShopDown never fired" in never["why"], never
    survivor = by_id["ShopSlow:threshold-x10"]
    assert survivor["outcome"] == "survived" and survivor["drills"] == {"shop-down": "PASS"}, survivor
    assert report["score"] == 50.0 and "score below --min-score 90" in out

    journals = [json.loads(p.read_text()) for p in
                (project / "reports" / "mutants").glob("session-*/reports/drills/shop-down-*.json")
                if not p.name.endswith("-trend.json")]
    assert len(journals) == 3, [j.get("verdict") for j in journals]  # the baseline and one per mutant
    for journal in journals:
        assert journal["pages"]["level"] == "delivered" and "shadow pair" in journal["pages"]["how"], journal["pages"]
        assert any("shadow pair" in w for w in journal.get("cautions", [])), journal.get("cautions")
    passed = [j for j in journals if j["verdict"] == "PASS"]
    assert passed and all(j["alerts"]["ShopDown"]["receiver"] == "oncall" for j in passed)

    after = _team_state(stack)
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    heard = {urlsplit(p["body"].get("externalURL", "")).port for p in stack.pages()}
    assert heard <= {stack.ports["am"]}, heard  # the team's own pages (the faults are real); none from the pair
    assert stack.nginx_pid() is not None, "a revert left nginx stopped"
