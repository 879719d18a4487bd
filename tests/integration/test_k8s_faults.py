"""The k8s target's faults against the real API server, each shown taking effect and reverted, with the pod
watch's account of what the cluster did: a pod deleted and replaced, a container crashed and restarted by the
kubelet, a Deployment scaled to zero and back. One stack for the module; nothing of the cluster is left after."""

from __future__ import annotations

import json
import time

import pytest

from gameday.core.errors import InjectionError
from gameday.faults import Ledger
from gameday.k8s.faults import BadRollout, CrashContainer, DeletePods, NodeDrain, ScaleToZero, StressInPod
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


def serving(stack, within=10.0):
    """The SLI answers within ``within`` seconds: a Service's endpoints, and kube-proxy's rules after them, follow
    a pod's readiness by up to a second or so."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if stack.sli_healthy():
            return True
        time.sleep(0.1)
    return False


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
    assert len(after) == 1 and after != before and stack.is_running(GATEWAY) and serving(stack)
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
    assert pods(stack, BACKEND) == [], "every pod is being deleted when the inject returns"
    deadline = time.monotonic() + 10  # the Deployment's status and the Service's endpoints follow within moments
    while time.monotonic() < deadline and (stack.api.ready_replicas(BACKEND) != (0, 0)
                                           or stack.service_healthy(BACKEND)):
        time.sleep(0.1)
    assert stack.api.ready_replicas(BACKEND) == (0, 0) and not stack.service_healthy(BACKEND)
    fault.revert()
    assert stack.api.ready_replicas(BACKEND) == (1, 1) and serving(stack)
    said = steps(fault)
    assert f"pod {name} being deleted" in said and f"Deployment {BACKEND} back at 1/1 ready replica(s)" in said, said
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and f"pod {name} gone" not in steps(fault):
        time.sleep(0.2)
    assert f"pod {name} gone" in steps(fault), "the old pod ends after its grace period"
    (entry, _) = ledger.entries()
    assert entry["detail"]["replicas"] == 1 and entry["revert"] == "k8s-workload", json.dumps(entry)
    assert closed(ledger)


def test_a_bad_rollout_crash_loops_its_new_pod_while_the_old_one_serves_and_is_undone(stack, ledger):
    (old,) = pods(stack, GATEWAY)
    fault = BadRollout(stack, GATEWAY, ledger=ledger)
    fault.inject()
    deadline = time.monotonic() + 30
    new = []
    while time.monotonic() < deadline:
        new = [p for p in stack.api.pods(GATEWAY) if p.metadata.name != old]
        statuses = [s for p in new for s in p.status.container_statuses or []]
        if any(s.restart_count >= 1 or (s.last_state and s.last_state.terminated) for s in statuses):
            break
        time.sleep(0.2)
    assert new and not any(s.ready for p in new for s in p.status.container_statuses or []), "the new pod fails"
    assert old in pods(stack, GATEWAY) and stack.is_running(GATEWAY) and serving(stack), \
        "the rolling update keeps the old pod serving"
    fault.revert()
    assert pods(stack, GATEWAY) == [old], "the template put back: the old ReplicaSet's pod, the new one gone"
    assert serving(stack) and closed(ledger)
    command = ledger.entries()[0]["detail"]["template"]["spec"]["containers"][0]["command"]
    assert command[0] == "restart-delay", "the ledger holds the template to put back"


def test_a_drained_node_leaves_the_pods_pending_until_it_is_uncordoned(stack, ledger):
    fault = NodeDrain(stack, BACKEND, ledger=ledger)
    fault.inject()
    node = stack.api.core.read_node("gameday-node")
    assert node.spec.unschedulable and not stack.is_running(BACKEND) and not stack.is_running(GATEWAY)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not stack.api.pods(BACKEND):
        time.sleep(0.1)
    assert [p.status.phase for p in stack.api.pods(BACKEND)] == ["Pending"], "nowhere to run"
    kube_system = stack.api.core.list_namespaced_pod("kube-system").items
    fault.revert()
    assert not stack.api.core.read_node("gameday-node").spec.unschedulable
    assert stack.is_running(BACKEND) and stack.is_running(GATEWAY) and serving(stack)
    assert closed(ledger) and "uncordoned node gameday-node" in fault.undone, fault.undone
    assert [p.metadata.name for p in stack.api.core.list_namespaced_pod("kube-system").items] == \
        [p.metadata.name for p in kube_system], "the cluster's own pods are never evicted"



def stress_count(stack, app):
    """How many processes of the app's container are named stress-ng (its workers are stress-ng-cpu ...)."""
    code, out = stack.api.exec(app, ["ps", "-e", "-o", "comm="])
    assert code == 0, out
    return sum(1 for name in out.split() if name.startswith("stress-ng"))


def test_cpu_stress_runs_stress_ng_in_the_pods_container_and_the_revert_ends_it(stack, ledger):
    assert stress_count(stack, BACKEND) == 0
    fault = StressInPod(stack, BACKEND, "cpu-stress", ["--cpu", "1", "--cpu-load", "50"], ledger=ledger)
    try:
        fault.inject()
        assert stress_count(stack, BACKEND) >= 1, "stress-ng runs in the backend's own container"
    finally:
        fault.revert()
    assert stress_count(stack, BACKEND) == 0 and closed(ledger)
    assert "no stress-ng left in model-backend's container" in fault.undone, fault.undone


def test_stress_where_the_image_has_no_stress_ng_is_refused_saying_why(stack, ledger, monkeypatch):
    real = stack.api.exec

    def without(app, argv, timeout=10.0):  # the image as a team's might be: no stress-ng on its PATH
        return real(app, ["sh", "-c", "PATH=/nonexistent; " + argv[-1]] if argv[:2] == ["sh", "-c"] else argv, timeout)

    monkeypatch.setattr(stack.api, "exec", without)
    fault = StressInPod(stack, BACKEND, "memory-stress", ["--vm", "1", "--vm-bytes", "64M", "--vm-keep"],
                        ledger=ledger)
    with pytest.raises(InjectionError, match="its image has no stress-ng"):
        fault.inject()
    fault.revert()
    monkeypatch.undo()
    assert stress_count(stack, BACKEND) == 0


def test_locust_workers_run_as_a_deployment_in_the_cluster_and_a_lost_one_is_said(stack, tmp_path):
    """``load.workers`` on the k8s target: the workers are pods that connect to the harness's master at the pod
    bridge's address; the figures are the master's; a worker pod deleted is a worker gone; the stop deletes
    them."""
    from gameday.k8s.loadworkers import NAME
    from gameday.load.locust import LocustRun

    pool = stack.load_workers()
    run = LocustRun(ROOT / "locustfiles" / "baseline.py", stack.url(GATEWAY), 4, 4, tmp_path / "load",
                    max_seconds=120, steerable=True, web=True, reach=stack.reach, workers=2, pool=pool)
    run.start()
    try:
        assert run.wait_flowing(90).requests > 0, run._tail()
        assert pool.pods_running() == 2 and not list(tmp_path.glob("load/locust-worker-*.log")), \
            "two worker pods, and no local worker process"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and run.workers_gone():
            time.sleep(0.2)
        assert run.workers_gone() == []
        victim = stack.api.pods(NAME)[0].metadata.name
        stack.api.core.delete_namespaced_pod(victim, stack.api.namespace, grace_period_seconds=0)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not run.workers_gone():
            time.sleep(0.2)
        assert any(victim in line for line in run.workers_gone()), run.workers_gone()
    finally:
        run.stop()
    assert not stack.api.pods(NAME, terminating=True), "the stop deleted the worker pods"
    assert run.final_stats() is not None and run.final_stats().requests > 0
