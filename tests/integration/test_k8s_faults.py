"""The k8s target's faults against the real API server, each shown taking effect and reverted, with the pod
watch's account of what the cluster did: a pod deleted and replaced, a container crashed and restarted by the
kubelet, a Deployment scaled to zero and back. One stack for the module; nothing of the cluster is left after."""

from __future__ import annotations

import json
import time

import pytest

from gameday.faults import Ledger
from gameday.k8s.faults import CrashContainer, DeletePods, ScaleToZero
from gameday.k8s.stack import BACKEND, GATEWAY, K8sConfig, K8sStack
from gameday.k8s.sweep import leftovers
from tests.conftest import ROOT
from tests.integration.test_k8s_drills import cluster_or_skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    cluster_or_skip()
    s = K8sStack(K8sConfig(ROOT, tmp_path_factory.mktemp("k8s"), time_scale=60))
    s.start()
    try:
        yield s
    finally:
        s.stop()
    assert leftovers() == [], "the stack's stop took the cluster down"


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "fault-ledger.jsonl")


def pods(stack, app):
    return [p.metadata.name for p in stack.api.pods(app)]


def steps(fault):
    return [what for _, what in fault.recovery_steps()]


def closed(ledger):
    return [e["state"] for e in ledger.entries()] == ["injecting", "reverted"]


def test_a_deleted_pod_is_replaced_and_the_watch_times_each_step(stack, ledger):
    before = pods(stack, GATEWAY)
    fault = DeletePods(stack, GATEWAY, count=1, ledger=ledger)
    fault.inject()
    assert not set(before) & set(pods(stack, GATEWAY)), "the pod is gone at once (grace period 0)"
    fault.revert()
    after = pods(stack, GATEWAY)
    assert len(after) == 1 and after != before and stack.is_running(GATEWAY) and stack.sli_healthy()
    said = steps(fault)
    new = after[0]
    order = [f"pod {new} created", f"pod {new} scheduled on gameday-node", f"pod {new}: container running",
             f"pod {new} ready", f"Deployment {GATEWAY} back at 1/1 ready replica(s)"]
    assert all(s in said for s in order), said
    assert [said.index(s) for s in order] == sorted(said.index(s) for s in order), said
    assert f"pod {before[0]} gone" in said
    assert stack.last_started(GATEWAY) > fault.injected_at, "t_mitigated is when the Deployment was back"
    assert closed(ledger)


def test_a_crashed_container_is_restarted_by_the_kubelet_after_its_back_off(stack, ledger):
    (name,) = pods(stack, GATEWAY)
    restarts = stack.api.container_status(GATEWAY).restart_count
    fault = CrashContainer(stack, GATEWAY, down_for=2.0, ledger=ledger)
    fault.inject()
    assert not stack.is_running(GATEWAY), "down: the back-off holds the service"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not stack.is_running(GATEWAY):
        time.sleep(0.1)
    back = time.monotonic() - fault.injected_at
    assert stack.is_running(GATEWAY) and back >= 2.0, back
    assert pods(stack, GATEWAY) == [name], "the same pod: the kubelet restarted its container"
    assert stack.api.container_status(GATEWAY).restart_count == restarts + 1
    fault.revert()
    said = steps(fault)
    assert f"pod {name}: the kubelet restarted its container (restart count {restarts + 1})" in said, said
    assert f"pod {name} not ready" in said and said.index(f"pod {name} not ready") < said.index(f"pod {name} ready")
    assert closed(ledger)


def test_a_deployment_scaled_to_zero_is_scaled_back_and_checked_ready(stack, ledger):
    (name,) = pods(stack, BACKEND)
    fault = ScaleToZero(stack, BACKEND, ledger=ledger)
    fault.inject()
    assert pods(stack, BACKEND) == [] and stack.api.ready_replicas(BACKEND) == (0, 0)
    assert not stack.service_healthy(BACKEND)
    fault.revert()
    assert stack.api.ready_replicas(BACKEND) == (1, 1) and stack.service_healthy(BACKEND)
    said = steps(fault)
    assert f"pod {name} gone" in said and f"Deployment {BACKEND} back at 1/1 ready replica(s)" in said, said
    (entry, _) = ledger.entries()
    assert entry["detail"]["replicas"] == 1 and entry["revert"] == "k8s-workload", json.dumps(entry)
    assert closed(ledger)
