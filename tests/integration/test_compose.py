"""The Compose stack on the real Docker engine: every container fault takes effect and is reverted, and
`gameday revert` reverts what a killed run left (the drills on it: ``test_compose_drills``). Skipped, with the
reason, only where no Docker engine can run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from gameday.compose.engine import compose_binary, engine
from gameday.compose.stack import ComposeConfig, ComposeStack
from gameday.core.errors import HarnessError
from gameday.faults import Ledger
from gameday.scenario.model import (
    CpuStressFault,
    KillServiceFault,
    MemoryStressFault,
    NetworkDisconnectFault,
    PacketLossFault,
    PauseServiceFault,
    StopServiceFault,
)
from tests.conftest import ROOT
from tests.integration.conftest import (
    page_after_reset_is_new,
)

GATEWAY, BACKEND = "inference-gateway", "model-backend"


def docker_or_skip() -> None:
    try:
        engine()
    except HarnessError as exc:
        pytest.skip(f"no Docker engine here: {exc}")


def remove_stacks_of_dead_runs() -> list[str]:
    """Stacks a killed test run left up (project ``gameday-test-PID`` or ``gameday-broken-PID``, PID gone)."""
    client = engine()
    projects = {c.labels.get("com.docker.compose.project", "") for c in client.containers.list(all=True)}
    removed = []
    for project in sorted(projects):
        m = re.fullmatch(r"gameday-(?:test|broken)-(\d+)", project)
        if m and not Path(f"/proc/{m.group(1)}").exists():
            subprocess.run([*compose_binary(), "-p", project, "down", "--volumes", "--remove-orphans", "-t", "2"],
                           capture_output=True, check=False)
            removed.append(project)
    return removed


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    docker_or_skip()
    remove_stacks_of_dead_runs()
    work = tmp_path_factory.mktemp("compose")
    cfg = ComposeConfig(ROOT, work, time_scale=60, project=f"gameday-test-{os.getpid()}")
    with ComposeStack(cfg) as s:
        yield s
    assert not s._client.containers.list(all=True, filters={"label": f"com.docker.compose.project={cfg.project}"})


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "ledger.jsonl")


def build(stack, spec, ledger, duration=None):
    return stack.faults.build(stack, spec, duration, ledger)


def test_the_stack_is_up_on_loopback_and_scaled(stack):
    assert stack.sli_healthy()
    assert all(url.startswith("http://127.0.0.1:") for url in stack.allowlist())
    assert stack.prometheus.scrape_interval() == pytest.approx(5 / 60, abs=0.001)
    assert stack.receiver.url.split(":")[1].lstrip("/") == stack._network_gateway()


def test_a_crash_is_answered_by_the_restart_policy(stack, ledger):
    before = stack.state(GATEWAY)["RestartCount"]
    fault = build(stack, KillServiceFault(kind="kill-service", target=GATEWAY), ledger, duration=1.0)
    t_inject = fault.inject()
    assert not stack.sli_healthy()
    deadline = time.monotonic() + 20
    while not stack.sli_healthy() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.sli_healthy(), "the restart policy did not bring the gateway back"
    st = stack.state(GATEWAY)
    assert st["RestartCount"] == before + 1, "a SIGKILL of the main process is a crash: the policy restarts it"
    back = stack.last_started(GATEWAY)
    assert back is not None and back - t_inject >= 0.9, "the service came back after its 1s back-off"
    fault.revert()
    entries = ledger.entries()
    assert entries[0]["detail"]["container"] == st["Id"] and entries[-1]["state"] == "reverted"
    # a shadow exercise's timeline: the policy's restart was nobody's doing; a person's restart is seen
    assert stack.trainee_actions(t_inject - 1) == []
    asked = time.monotonic()
    stack.container(GATEWAY).restart(timeout=5)
    seen = stack.trainee_actions(t_inject - 1)
    assert "restart of the inference-gateway container (asked of the Docker engine)" in [w for _, w in seen], seen
    assert all(t >= asked - 0.5 for t, _ in seen), seen
    deadline = time.monotonic() + 20
    while not stack.sli_healthy() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.sli_healthy()


def test_after_a_clean_slate_an_alert_pages_as_a_new_incident(stack):
    page_after_reset_is_new(stack)


def test_stop_and_start(stack, ledger):
    """A stopped backend is an outage the gateway reports at once (502), as on the lab: it looks the backend up
    for each new connection, so a vanished container is no address to wait on until the 2 s timeout."""
    gateway = stack.url(GATEWAY)
    for _ in range(5):  # traffic just before the fault, as under load: the gateway has looked the backend up
        assert requests.post(f"{gateway}/v1/predict", json={"inputs": [1]}, timeout=5).status_code == 200
    fault = build(stack, StopServiceFault(kind="stop-service", target=BACKEND), ledger)
    fault.inject()
    assert not stack.state(BACKEND)["Running"]
    answers = []
    for _ in range(10):
        t0 = time.monotonic()
        code = requests.post(f"{gateway}/v1/predict", json={"inputs": [1]}, timeout=5).status_code
        answers.append((code, round(time.monotonic() - t0, 3)))
    assert all(code == 502 and took < 0.5 for code, took in answers), answers
    fault.revert()
    assert stack.state(BACKEND)["Running"]


def test_pause_hangs_the_service_and_unpause_thaws_it(stack, ledger):
    fault = build(stack, PauseServiceFault(kind="pause-service", target=GATEWAY), ledger)
    fault.inject()
    assert stack.state(GATEWAY)["Paused"] and not stack.sli.check(stack.url(GATEWAY))
    fault.revert()
    assert not stack.state(GATEWAY)["Paused"] and stack.sli_healthy()


@pytest.mark.parametrize("spec", [CpuStressFault(kind="cpu-stress", target=BACKEND, workers=1, load=50),
                                  MemoryStressFault(kind="memory-stress", target=BACKEND, megabytes=64)],
                         ids=["cpu", "memory"])
def test_stress_runs_in_the_services_cgroup_and_is_gone_after_revert(stack, ledger, spec):
    fault = build(stack, spec, ledger)
    fault.inject()
    assert fault.stress_running()
    sidecar = stack._client.containers.get(fault.sidecar_name)
    assert sidecar.attrs["HostConfig"]["CgroupParent"] == f"/docker/{stack.container(BACKEND).id}"
    fault.revert()
    assert not fault.stress_running() and fault.sidecar_gone()


def test_packet_loss_drops_traffic_and_the_table_is_gone_after_revert(stack, ledger):
    fault = build(stack, PacketLossFault(kind="packet-loss", target=GATEWAY, percent=100), ledger)
    fault.inject()
    assert fault.table_present()
    assert not stack.sli.check(stack.url(GATEWAY)), "all of the gateway's answers should be dropped"
    fault.revert()
    assert not fault.table_present() and stack.sli_healthy()


def test_disconnect_and_reconnect_with_the_service_alias(stack, ledger):
    fault = build(stack, NetworkDisconnectFault(kind="network-disconnect", target=BACKEND), ledger)
    before = fault.aliases()
    assert f"{stack.config.project}-{BACKEND}-1" in before and BACKEND in before
    fault.inject()
    assert not fault.connected()
    fault.revert()
    assert fault.connected()
    assert fault.aliases() == before, "every name the container had on the network is back (its alias was lost)"
    deadline = time.monotonic() + 10
    while not stack.sli_healthy() and time.monotonic() < deadline:  # the gateway finds the backend by name again
        time.sleep(0.1)
    assert stack.sli_healthy()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_gameday_revert_reverts_what_a_killed_run_left_and_says_when_it_cannot(stack, tmp_path):
    ledger = Ledger(tmp_path / "fault-ledger.jsonl")
    backend = stack.container(BACKEND)
    backend.pause()
    ledger._append({"id": "left1", "state": "injecting", "kind": "pause-service", "target": BACKEND,
                    "detail": {"container": backend.id, "revert": "unpause the container"}, "pid": dead_pid()})
    ledger._append({"id": "left2", "state": "injecting", "kind": "pause-service", "target": GATEWAY,
                    "detail": {"container": "0" * 64, "revert": "unpause the container"}, "pid": dead_pid()})
    run = subprocess.run([sys.executable, "-m", "gameday.cli.main", "revert", "--reports", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr  # one could not be reverted
    assert not stack.state(BACKEND)["Paused"]
    states = {e["id"]: e for e in ledger.entries() if e["state"] != "injecting"}
    assert states["left1"]["state"] == "reverted" and "checked" in states["left1"]["note"]
    assert states["left2"]["state"] == "abandoned" and "no longer exists" in states["left2"]["note"]
    assert ledger.pending() == []
