"""The Compose stack on the real Docker engine: every container fault takes effect and is reverted, and the
P0 drills run on it as on the lab. Skipped, with the reason, only where no Docker engine can run."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from gameday.compose.stack import ComposeConfig, ComposeStack, engine
from gameday.errors import HarnessError
from gameday.faults import Ledger
from gameday.scenario import (
    CpuStressFault,
    KillServiceFault,
    MemoryStressFault,
    NetworkDisconnectFault,
    PacketLossFault,
    PauseServiceFault,
    StopServiceFault,
)
from tests.conftest import ROOT
from tests.integration.test_drills import broken_rules

GATEWAY, BACKEND = "inference-gateway", "model-backend"


def docker_or_skip() -> None:
    try:
        engine()
    except HarnessError as exc:
        pytest.skip(f"no Docker engine here: {exc}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    docker_or_skip()
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


def test_stop_and_start(stack, ledger):
    fault = build(stack, StopServiceFault(kind="stop-service", target=BACKEND), ledger)
    fault.inject()
    assert not stack.state(BACKEND)["Running"]
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
    fault.inject()
    assert not fault.connected()
    fault.revert()
    assert fault.connected()
    deadline = time.monotonic() + 10
    while not stack.sli_healthy() and time.monotonic() < deadline:  # the gateway finds the backend by name again
        time.sleep(0.1)
    assert stack.sli_healthy()


def test_p0_drills_pass_on_compose(run_gameday):
    docker_or_skip()
    run = run_gameday("-m", "p0", "--time-scale", "60", "--target", "compose", timeout=600)
    assert run.proc.returncode == 0, run.out
    assert "2 passed" in run.out and "target compose" in run.out
    journals = run.journals()
    outage = journals["service-outage"]
    assert outage["verdict"] == "PASS"
    assert "restarted by its platform (compose)" in json.dumps(outage["events"])


def test_a_broken_rule_fails_its_compose_drill(run_gameday, tmp_path):
    docker_or_skip()
    run = run_gameday("-k", "high-error-rate", "--time-scale", "60", "--target", "compose",
                      "--rules", str(broken_rules(tmp_path)), timeout=600)
    assert run.proc.returncode == 1, run.out
    assert "FAIL: HighErrorRate never fired within" in run.out


def test_a_fault_kind_the_target_cannot_do_is_one_line(run_gameday, tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (ROOT / "scenarios/service-outage.yaml").read_text()
    text = text.replace("kind: kill-service", "kind: pause-service").replace("mode: auto", "mode: revert")
    (scenarios / "hang.yaml").write_text(text.replace("duration: 75s           # down this long, then the "
                                                      "supervisor restarts it", "duration: 10s"))
    run = run_gameday("--scenarios", str(scenarios), "--time-scale", "60")
    assert run.proc.returncode == 1, run.out
    line = next(ln for ln in run.out.splitlines() if "cannot do fault kind" in ln)
    assert "the lab target cannot do fault kind 'pause-service'" in line and "--target compose" in line
    assert "Traceback" not in run.out


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
