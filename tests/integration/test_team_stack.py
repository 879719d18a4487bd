"""Drilling a team's own stack through its target file: a stack the tests start (nginx with its exporter, a
Prometheus and an Alertmanager gameday did not start), drilled as a team drills it: ``pytest gamedays/ --target
shop`` in a project of the team's own, with its scenario, runbook and locustfile."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import requests

from tests.integration.conftest import GamedayRun, gameday_env
from tests.integration.teamproject import drill, reverted_by_watchdog, target_file, team_project, until_detect
from tests.integration.teamstack import TeamStack, team_stack


@pytest.fixture
def stack(tmp_path):
    s = team_stack(tmp_path / "stack")
    try:
        yield s
    finally:
        s.stop()


def test_a_drill_on_a_stack_gameday_did_not_start_passes_with_its_page_delivered(tmp_path, stack):
    project = team_project(tmp_path, stack)
    run = drill(project, "--junitxml", "junit.xml")
    assert run.proc.returncode == 0, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "PASS", journal["reasons"]
    alert = journal["alerts"]["ShopDown"]
    assert alert["receiver"] == "oncall" and alert["sla_met"]
    assert journal["pages"]["level"] == "delivered"
    assert "pages delivered" in run.out
    skew = journal["stack"]["clock_skew"]  # one machine, one clock: the reading is the request's own jitter
    assert abs(skew["prometheus"]) < 0.5 and abs(skew["alertmanager"]) <= 1.5, skew
    assert "clock skew, each server's clock minus this machine's: prometheus " in run.out
    junit = (project / "junit.xml").read_text()
    assert '<property name="gameday_pages" value="delivered"' in junit, junit
    (result,) = [r for r in run.allure_results() if r.get("status") == "passed"]
    assert any(p["name"] == "pages" and p["value"].strip("'").startswith("delivered") for p in result["parameters"]), \
        result["parameters"]
    review = subprocess.run([sys.executable, "-m", "gameday.cli.main", "report", "--reports", "reports"], cwd=project,
                            capture_output=True, text=True, timeout=120)
    assert review.returncode == 0, review.stdout + review.stderr
    assert "pages proved delivered" in (project / "reports" / "review" / "review.md").read_text()
    assert stack.nginx_pid() is not None, "the revert started nginx again"
    real = [p for p in stack.pages() if p["path"] == "/oncall"]
    assert any(p["body"]["status"] == "firing" for p in real), "the team's own pager had the page too"


@pytest.mark.parametrize("level", ["attempted", "routed"])
def test_without_gameday_in_its_receivers_a_page_is_proved_lower_and_never_reads_delivered(tmp_path, level):
    """Without a receiver the highest level offered is attempted (Alertmanager's counters moved); routed is asked
    for with ``pages: routed``."""
    stack = team_stack(tmp_path / "stack", with_gameday=False)
    try:
        project = team_project(tmp_path, stack, routed="yes", **({"pages": "routed"} if level == "routed" else {}))
        run = drill(project, "--junitxml", "junit.xml")
    finally:
        stack.stop()
    assert run.proc.returncode == 0, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "PASS" and journal["pages"]["level"] == level, journal["reasons"]
    assert journal["alerts"]["ShopDown"]["receiver"] == "oncall"
    assert f"pages {level}: Alertmanager's API holds the alert active" in run.out
    assert "pages delivered" not in run.out and "delivered" not in json.dumps(journal["pages"])
    assert f'<property name="gameday_pages" value="{level}"' in (project / "junit.xml").read_text()
    if level == "attempted":  # the page is when the counters moved: after group_wait (1s), unlike routed
        t = journal["alerts"]["ShopDown"]["timings"]
        assert t["ttn"] - t["ttd"] >= 0.9, t
    notes = {n["receiver"] for n in journal["notifications"]}
    assert notes == {"oncall"}, "read from Alertmanager's API: the receiver its route tree gives"


def test_a_route_to_the_wrong_receiver_fails_naming_the_level(tmp_path):
    s = team_stack(tmp_path / "stack", page_to="tickets")
    try:
        run = drill(team_project(tmp_path, s))
    finally:
        s.stop()
    assert run.proc.returncode == 1, run.out
    assert "verdict FAIL" in run.out and "ShopDown" in run.out and "tickets" in run.out, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "FAIL" and journal["pages"]["level"] == "delivered"


def test_an_address_outside_the_allowlist_is_refused_before_any_fault(tmp_path, stack):
    run = drill(team_project(tmp_path, stack, web="http://192.0.2.10:8080"))
    assert run.proc.returncode != 0, run.out
    assert ("http://192.0.2.10:8080: 192.0.2.10 resolves to 192.0.2.10, outside the allowlist (127.0.0.0/8): add "
            "its network to safety.allow in targets/shop.yaml to allow it") in run.out
    assert "Traceback" not in run.out
    assert not (run.reports / "fault-ledger.jsonl").exists() or "injecting" not in \
        (run.reports / "fault-ledger.jsonl").read_text()
    assert stack.nginx_pid() is not None


def test_a_service_that_is_the_teams_own_prometheus_is_never_faulted(tmp_path, stack):
    """A pid file that names the team's Prometheus, in ``safety.faultable``: the drill stops before any fault."""
    prometheus = stack.procs[-1]
    pidfile = tmp_path / "prometheus.pid"
    pidfile.write_text(f"{prometheus.pid}\n")
    project = team_project(tmp_path, stack)
    path = project / "targets" / "shop.yaml"
    path.write_text(path.read_text().replace(str(stack.folder / "nginx.pid"), str(pidfile)))
    run = drill(project)
    assert run.proc.returncode != 0
    assert (f"targets/shop.yaml: services.web (pid file {pidfile}) listens on port {stack.ports['prom']}, where "
            "monitoring.prometheus.url is: gameday never faults the monitoring") in run.out, run.out
    assert "Traceback" not in run.out and prometheus.poll() is None
    assert "injecting" not in ((run.reports / "fault-ledger.jsonl").read_text()
                               if (run.reports / "fault-ledger.jsonl").exists() else "")


def test_a_bad_target_file_is_one_line_naming_the_field(tmp_path, stack):
    project = team_project(tmp_path, stack)
    path = project / "targets" / "shop.yaml"
    path.write_text(path.read_text().replace("faultable: [web]", "faultable: [db]"))
    run = drill(project)
    assert run.proc.returncode != 0
    assert "targets/shop.yaml: (top level): safety.faultable: 'db' is none of the services (web)" in run.out, run.out
    assert "Traceback" not in run.out


def test_a_paused_service_is_thawed_by_the_watchdog_when_the_harness_is_killed(tmp_path, stack):
    from gameday.faults import Ledger
    from gameday.team.process import state_of

    project = team_project(tmp_path, stack, kind="pause-service")
    proc, seen = until_detect(project)
    try:
        pid = stack.nginx_pid()
        assert pid is not None and state_of(pid) == "T", "".join(seen)
        proc.kill()  # SIGKILL: no revert from the harness
        proc.wait()
        reverted_by_watchdog(project)
        ledger = Ledger(project / "reports" / "fault-ledger.jsonl")
        assert state_of(pid) in ("S", "R"), "nginx thawed"
        assert requests.get(stack.url("web"), timeout=5).status_code == 200
        entry = next(e for e in ledger.entries() if e["state"] == "injecting")
        assert entry["revert"] == "process-pause" and entry["detail"]["processes"][0]["pid"] == pid
        assert len(entry["detail"]["processes"]) >= 2, "the master and its workers"
    finally:
        proc.kill()


def test_a_reused_pid_is_never_signalled_by_a_revert(tmp_path):
    """``gameday revert`` of a pause whose process is gone: the pid now names another process (a start time that
    differs), which is left alone."""
    from gameday.team.process import Proc, revert_pause, started_ticks, state_of

    other = subprocess.Popen(["sleep", "30"])
    try:
        ticks = started_ticks(other.pid)
        assert ticks is not None
        os.kill(other.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while state_of(other.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        state, note = revert_pause({"detail": {"processes": [Proc(other.pid, ticks - 1).as_dict()]}})
        assert state == "gone" and state_of(other.pid) == "T", "a different start time: not the frozen process"
        state, note = revert_pause({"detail": {"processes": [Proc(other.pid, ticks).as_dict()]}})
        assert state == "reverted" and str(other.pid) in note and state_of(other.pid) in ("S", "R")
    finally:
        other.kill()


def forge_pages(stack: TeamStack) -> None:
    """What someone on the team's network can do while the drill waits: post pages to gameday's receiver without
    the secret and with it (read from the file the team's Alertmanager reads), and push the alert into
    Alertmanager's open API, which then sends a real page with the secret."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    labels = {"alertname": "ShopDown", "severity": "page", "job": "shop", "instance": "x"}
    secret = stack.secret.read_text().strip()
    for headers in ({}, {"Authorization": f"Bearer {secret}"}):
        body = {"version": "4", "status": "firing", "receiver": "oncall", "groupLabels": {"alertname": "ShopDown"},
                "alerts": [{"status": "firing", "labels": labels, "annotations": {}, "startsAt": now,
                            "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "0123456789abcdef"}]}
        requests.post(f"http://127.0.0.1:{stack.ports['gameday']}/oncall", json=body, headers=headers, timeout=5)
    requests.post(f"{stack.url('am')}/api/v2/alerts", json=[{"labels": labels, "startsAt": now}],
                  timeout=5).raise_for_status()


def test_a_forged_page_never_turns_a_rule_that_cannot_fire_into_a_pass(tmp_path):
    s = team_stack(tmp_path / "stack", shop_down="nginx_up == 2")  # up is 0 or 1: it can never fire
    try:
        project = team_project(tmp_path, s, within="10s")
        proc = subprocess.Popen([sys.executable, "-m", "pytest", "gamedays", "--target", "shop", "--scenarios",
                                 "scenarios", "--reports", "reports", "-p", "no:cacheprovider",
                                 "--error-budget-override", "a stack the test started, with no users"],
                                cwd=project, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, stdin=subprocess.DEVNULL)
        seen = []
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "▸ detect" in line:
                forge_pages(s)
        proc.wait(60)
    finally:
        s.stop()
    out = "".join(seen)
    assert proc.returncode == 1, out
    assert "verdict FAIL: ShopDown never fired" in out and "verdict PASS" not in out, out
    (journal,) = GamedayRun(proc, project / "reports", project / "allure").journals().values()
    refused = journal["pages_refused"]
    assert any(r.get("why") == "no secret" for r in refused), refused
    held = [r for r in refused if "Prometheus never showed" in r.get("why", "") or "Alertmanager holds no" in
            r.get("why", "")]
    assert held, f"a page with the secret was held against the stack and refused: {refused}"


def test_target_new_drafts_a_catalog_that_drills_nothing_until_a_person_names_the_fault(tmp_path, stack):
    """From an empty folder, as a new user starts: ``gameday target new`` reads the live rules and routes; each
    draft's drill is SKIPPED, never PASS; with the services and the fault named, the drill passes."""
    project = tmp_path / "project"
    project.mkdir()
    t0 = time.monotonic()
    new = subprocess.run([sys.executable, "-m", "gameday.cli", "target", "new", "shop", "--prometheus",
                          stack.url("prom"), "--alertmanager", stack.url("am")], cwd=project, capture_output=True,
                         text=True, timeout=60, env=gameday_env())
    assert new.returncode == 0, new.stdout + new.stderr
    assert "wrote scenarios/shop-down.yaml: a draft expecting ShopDown at oncall" in new.stdout, new.stdout
    assert "wrote scenarios/shop-slow.yaml: a draft expecting ShopSlow at tickets" in new.stdout, new.stdout
    for rel in ("targets/shop.yaml", "gamedays/test_scenarios.py", "locustfiles/get.py", "pytest.ini",
                "runbooks/shop-down.md"):
        assert (project / rel).is_file(), rel
    again = subprocess.run([sys.executable, "-m", "gameday.cli", "target", "new", "shop", "--prometheus",
                            stack.url("prom"), "--alertmanager", stack.url("am")], cwd=project, capture_output=True,
                           text=True, timeout=60, env=gameday_env())
    assert again.returncode == 1 and again.stdout.count("\n") == 1 and "--force" in again.stdout, again.stdout

    def check() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gameday.cli", "check", "--target", "shop"], cwd=project,
                              capture_output=True, text=True, timeout=60, env=gameday_env())

    first = check()
    assert first.returncode == 1 and first.stdout.count("draft: a draft: name the fault") == 2, first.stdout
    assert "2 alerting rules live, 0 drilled" in first.stdout, first.stdout

    drafts = drill(project)
    assert drafts.proc.returncode == 0, drafts.out
    assert "verdict PASS" not in drafts.out and drafts.out.count("is a draft (draft: true)") >= 2, drafts.out
    assert {j["verdict"] for j in drafts.journals().values()} == {"SKIPPED"}

    # what the person does: name the service in the target file, and the fault in the draft of ShopDown
    (project / "targets" / "shop.yaml").write_text(target_file(stack))
    draft = project / "scenarios" / "shop-down.yaml"
    text = draft.read_text().replace("draft: true\n", "").replace("target: app", "target: web")
    draft.write_text(text.replace("steady_state: 30s", "steady_state: 5s").replace("within: 2m", "within: 30s"))
    run = drill(project, "-k", "shop-down")
    took = time.monotonic() - t0
    assert run.proc.returncode == 0, run.out
    (journal,) = [j for j in run.journals().values() if j["verdict"] != "SKIPPED"]
    assert journal["verdict"] == "PASS" and journal["pages"]["level"] == "delivered", journal["reasons"]
    print(f"gameday target new to a first PASS: {took:.1f}s of commands")
    named = check()
    assert "2 alerting rules live, 1 drilled" in named.stdout, named.stdout
    assert named.stdout.count("draft: a draft") == 1, named.stdout
    draft.write_text(draft.read_text().replace("within: 30s", "within: 2s"))  # below this stack's floor
    short = check()
    assert short.returncode == 1, short.stdout
    assert "scenarios/shop-down.yaml: the SLA of 2.0s for ShopDown is below the pipeline's floor of 4.0s" \
        in short.stdout, short.stdout
    assert "Traceback" not in short.stdout + short.stderr
