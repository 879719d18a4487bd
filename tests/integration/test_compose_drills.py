"""Whole drills on the Compose stack, run as a user runs them: the P0 and resource drills pass, a broken rule fails
though the system under test forges its page, faults the target cannot take are refused, and the watchdog reverts
what a killed or stalled harness left."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gameday.compose.engine import compose_binary, default_project, engine
from gameday.compose.stack import ComposeConfig, ComposeStack
from gameday.core.errors import HarnessError
from gameday.faults import Ledger
from tests.conftest import ROOT
from tests.integration.conftest import (
    SHARED_SCALE,
    broken_rules,
    drill_until_detect,
    gameday_argv,
    gameday_env,
)
from tests.integration.test_compose import BACKEND, GATEWAY, docker_or_skip


def test_p0_drills_pass_on_compose(run_gameday):
    """Beside the stack, an exited container run by hand from the stack's image: it carries the image's Compose
    labels (project and service), and is never taken for the service, nor brought down by the stack's guard."""
    docker_or_skip()
    builder = ComposeStack(ComposeConfig(ROOT, Path("/tmp/gameday-impostor")))
    builder.ensure_image()
    image = builder.image_tag()
    impostor = engine().containers.run(f"gameday-stack:{image}", ["true"], name=f"gameday-impostor-{os.getpid()}",
                                       detach=True)
    try:
        impostor.wait(timeout=30)
        assert impostor.labels["com.docker.compose.service"] == BACKEND, "the image's labels are on it"
        run = run_gameday("-m", "p0", "--time-scale", SHARED_SCALE, "--target", "compose", timeout=600)
        impostor.reload()
        assert impostor.status == "exited", "left as it was"
    finally:
        impostor.remove(force=True)
    assert run.proc.returncode == 0, run.out
    # no relay in the compose stack (the burn and its runbook drill); runbook 003 has no compose version yet
    assert "3 passed, 3 skipped" in run.out and "target compose" in run.out
    assert "mitigation 'restart-gateway' is marked only for k8s, lab, not for the compose target" in run.out, run.out
    journals = run.journals()
    outage = journals["service-outage"]
    assert outage["verdict"] == "PASS"
    assert "restarted by its platform (compose)" in json.dumps(outage["events"])
    started = journals["backend-down-runbook"]  # runbook 001's compose version: docker-compose start, then a check
    steps = [e["note"] for e in started["events"] if e.get("event") == "note" and e["note"].startswith("runbook ")]
    assert len(steps) == 2 and "docker-compose start model-backend (exit 0," in steps[0], steps
    assert started["verdict"] == "PASS"


@pytest.mark.whole_machine  # its CPU stress or surge is measured against the CPU it has
def test_resource_and_surge_drills_pass_on_compose(run_gameday):
    """The stack's container exporter reads each service's cgroup, a stress sidecar counts against the backend's
    limits, and a surge comes through the drill's own load: all three drills pass on containers too."""
    docker_or_skip()
    run = run_gameday("-k", "test_drill and (exhaustion or surge)", "--time-scale", "60", "--target", "compose",
                      timeout=600)
    assert run.proc.returncode == 0, run.out
    journals = run.journals()
    assert {s: j["verdict"] for s, j in journals.items()} == {"cpu-exhaustion": "PASS", "memory-exhaustion": "PASS",
                                                              "traffic-surge": "PASS"}
    assert journals["cpu-exhaustion"]["timer_lag"]["max_ms"] < 100


FORGE = """import sys, urllib.request as u
headers = {"Content-Type": "application/json", **({"Authorization": sys.argv[3]} if sys.argv[3] else {})}
try:
    u.urlopen(u.Request(sys.argv[1], data=sys.argv[2].encode(), headers=headers), timeout=5)
    print("accepted")
except Exception as exc:
    print(exc)
"""


def test_a_broken_rule_fails_its_compose_drill_though_the_sut_forges_its_page(tmp_path):
    """The system under test reaches the receiver on the bridge: from inside the backend's container, a forged
    page once made this drill PASS. Sent without the secret (the container never has it), and with it (as if it
    leaked), it is refused either way, and the drill FAILs 'never fired'."""
    docker_or_skip()
    proc, seen = drill_until_detect(tmp_path, "-k", "test_drill and service-outage", "--time-scale", "60",
                                    "--target", "compose", "--rules", str(broken_rules(tmp_path, "service-outage")))
    import yaml

    hook = yaml.safe_load((tmp_path / "reports/compose/config/alertmanager.yml").read_text())["receivers"][0][
        "webhook_configs"][0]
    url, secret = hook["url"], hook["http_config"]["authorization"]["credentials"]
    body = json.dumps({"status": "firing", "alerts": [{"status": "firing", "startsAt": "2026-12-02T05:00:00Z",
                                                       "fingerprint": "f00d", "labels": {"alertname": "ServiceDown",
                                                                                         "severity": "critical"}}]})
    backend = engine().containers.get(f"{default_project()}-{BACKEND}-1")
    said = [backend.exec_run(["python3", "-c", FORGE, url, body, auth]).output.decode().strip()
            for auth in ("", f"Bearer {secret}")]
    assert "401" in said[0] and said[1] == "accepted", said
    rest, _ = proc.communicate(timeout=300)
    out = "".join(seen) + rest
    assert proc.returncode == 1, out
    assert "FAIL: ServiceDown never fired within" in out, out
    (journal,) = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "drills").glob("*.json")]
    whys = [r["why"] for r in journal["pages_refused"]]
    assert "no secret" in whys and any("Alertmanager holds no active ServiceDown" in w for w in whys), whys


def hang_scenario(tmp_path: Path, duration: str) -> Path:
    """A scenarios folder whose one drill pauses the gateway (the outage drill, hung instead of killed)."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (ROOT / "scenarios/service-outage.yaml").read_text()
    text = text.replace("kind: kill-service", "kind: pause-service").replace("mode: auto", "mode: revert")
    (scenarios / "hang.yaml").write_text(text.replace("duration: 75s           # down this long, then the "
                                                      "supervisor restarts it", f"duration: {duration}"))
    return scenarios


def test_a_fault_kind_the_target_cannot_do_is_one_line(run_gameday, tmp_path):
    scenarios = hang_scenario(tmp_path, "10s")
    run = run_gameday("-k", "test_drill", "--scenarios", str(scenarios), "--time-scale", "60")
    assert run.proc.returncode == 1, run.out
    line = next(ln for ln in run.out.splitlines() if "cannot do fault kind" in ln)
    assert "the lab target cannot do fault kind 'pause-service'" in line and "--target compose" in line
    assert "Traceback" not in run.out


def test_a_fault_aimed_at_the_monitoring_stack_is_refused(run_gameday, tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (ROOT / "scenarios/service-outage.yaml").read_text()
    (scenarios / "own-goal.yaml").write_text(text.replace("target: inference-gateway", "target: prometheus"))
    run = run_gameday("-k", "test_drill", "--scenarios", str(scenarios), "--time-scale", "60")
    assert run.proc.returncode == 1, run.out
    assert "fault.target: no service 'prometheus' of the system under test on the lab target" in run.out
    ledger = run.reports / "fault-ledger.jsonl"
    assert not ledger.exists() or ledger.read_text() == "", "nothing may be injected"


def test_a_failed_start_is_torn_down_and_names_the_service(tmp_path):
    docker_or_skip()
    import shutil

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    prom = config / "prometheus" / "prometheus.yml"
    prom.write_text(prom.read_text() + "\nno_such_setting: true\n")  # Prometheus refuses to start on it
    cfg = ComposeConfig(ROOT, tmp_path / "work", time_scale=60, config_dir=config,
                        project=f"gameday-broken-{os.getpid()}")
    stack = ComposeStack(cfg)
    with pytest.raises(HarnessError) as err:
        stack.__enter__()
    assert re.search(r"did not start; prometheus is (exited|restarting): ", str(err.value)), err.value
    assert "no_such_setting" in str(err.value), "the service's last log lines say why"
    assert not stack._client.containers.list(all=True, filters={"label": f"com.docker.compose.project={cfg.project}"})


def start_pause_drill(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """A drill that pauses the gateway on compose until the harness reverts it, with a 5 s watchdog; returned once
    its fault is in, with the lines it printed so far."""
    docker_or_skip()
    scenarios = hang_scenario(tmp_path, "20m")
    argv = gameday_argv(tmp_path, "-k", "test_drill", "--scenarios", str(scenarios), "--time-scale", "60",
                        "--target", "compose", "--watchdog", "5")
    proc = subprocess.Popen(argv, cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "fault injected" in line:
            break
    if not any("fault injected" in line for line in seen):
        proc.kill()
        pytest.fail("the pause never went in: " + "".join(seen))
    return proc, seen


def test_the_watchdog_reverts_a_pause_when_the_harness_is_killed(tmp_path):
    proc, seen = start_pause_drill(tmp_path)
    try:
        client = engine()
        project = default_project()
        gateway = next(c for c in client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
                       if c.labels.get("com.docker.compose.service") == GATEWAY)
        gateway.reload()
        ledger_text = (tmp_path / "reports" / "fault-ledger.jsonl").read_text()
        assert gateway.attrs["State"]["Paused"], "".join(seen) + ledger_text
        proc.kill()  # SIGKILL: no finally, no revert from the harness
        proc.wait()
        ledger = Ledger(tmp_path / "reports" / "fault-ledger.jsonl")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ledger.pending():  # the watchdog unpauses, checks, then writes
            time.sleep(0.2)
        last = ledger.entries()[-1]
        assert last["state"] == "reverted" and "by the watchdog" in last["note"], last
        # then the stack's guard brings down the stack the dead run left up (it once stayed until the next run)
        deadline = time.monotonic() + 60
        mine = {"label": f"com.docker.compose.project={project}"}
        while time.monotonic() < deadline and client.containers.list(all=True, sparse=True, filters=mine):
            time.sleep(0.5)
        left = client.containers.list(all=True, sparse=True, filters=mine)
        assert left == [], f"the dead run's stack is still up: {[c.name for c in left]}; " + \
            (tmp_path / "reports" / "compose" / "guard.log").read_text()
    finally:
        proc.kill()
        subprocess.run([*compose_binary(), "--project-name", default_project(), "--file",
                        str(ROOT / "docker-compose.yml"), "down", "--volumes", "--timeout", "2"],
                       capture_output=True, timeout=120)


def test_a_scenario_may_ask_to_be_skipped_where_its_fault_kind_is_missing(run_gameday, tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (ROOT / "scenarios/service-outage.yaml").read_text()
    text = text.replace("kind: kill-service", "kind: pause-service\n  skip_where_unsupported: true")
    (scenarios / "hang.yaml").write_text(text.replace("mode: auto", "mode: revert"))
    run = run_gameday("-k", "test_drill", "--scenarios", str(scenarios), "--time-scale", "60", "-rs")
    assert run.proc.returncode == 0, run.out
    assert "1 skipped" in run.out and "the lab target cannot do fault kind 'pause-service'" in run.out
    assert run.journals()["service-outage"]["verdict"] == "SKIPPED"


def test_a_harness_stalled_past_the_watchdog_reads_error_naming_it_never_a_false_timeline(tmp_path):
    """SIGSTOP of the harness for 12 s while a pause is in, with --watchdog 5: the watchdog unpauses the container.
    The harness once came back and wrote 'mitigated: harness reverted pause-service', a t_resolved of 30 s, and a
    second ledger close; the drill is now ERROR naming the watchdog, with its mark, and the entry closed once."""
    proc, seen = start_pause_drill(tmp_path)
    proc.send_signal(signal.SIGSTOP)
    time.sleep(12)
    proc.send_signal(signal.SIGCONT)
    rest, _ = proc.communicate(timeout=180)
    out = "".join(seen) + rest
    assert proc.returncode == 1, out
    (journal,) = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "drills").glob("*.json")]
    assert journal["verdict"] == "ERROR" and "the watchdog took pause-service inference-gateway out" in \
        journal["reasons"][0], journal["reasons"]
    assert "t_watchdog_reverted" in journal["marks"] and "t_resolved" not in journal["marks"]
    ledger = [json.loads(line) for line in (tmp_path / "reports" / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"] and "by the watchdog" in ledger[1]["note"]
    assert [json.loads(p.read_text())["status"] for p in (tmp_path / "allure").glob("*-result.json")] == ["broken"]
