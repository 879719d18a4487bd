"""A team's services as workloads on a Kubernetes cluster, drilled through its target file's ``kubernetes``
platform. The test brings the cluster up and deploys the team's workloads itself (gameday neither starts this
cluster nor deploys to it), and a Prometheus and an Alertmanager gameday did not start watch them through their
Services. The kubeconfig is the team's; the ledger keeps its path and context, never its token.

Shown: a scale to zero that pages and is put back; a fault past the file's bound on pods refused before any pod
is touched; a pod delete and a stress by selector that reach the selected pods and no other; the watchdog's
revert of a scale to zero after the harness is killed outright (the cluster outlives the harness here)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from gameday.faults import Ledger
from gameday.k8s.cluster import LocalCluster, binaries
from gameday.k8s.faults import LIVE_STRESS
from gameday.k8s.netcheck import wait_programmed
from gameday.k8s.sweep import leftovers
from gameday.scenario.model import CpuStressFault, PodDeleteFault
from gameday.team.plugin import load_target_file
from gameday.team.target import TeamTarget
from tests.conftest import ROOT
from tests.integration.teamproject import drill, monitoring, reverted_by_watchdog, team_project, until_detect
from tests.integration.teamstack import TeamStack, team_stack
from tests.integration.test_k8s_drills import cluster_or_skip
from tests.integration.test_team_containers import HEALTH, SCENARIO

NAMESPACE, OTHER = "shop", "elsewhere"
REPLICAS = {"shop": 1, "cart": 3}

def manifest(name: str, replicas: int, image: str) -> tuple[dict, dict]:
    """The team's own Deployment and Service (the model backend answers /health on 8001)."""
    labels = {"app": name, "team": "shop"}
    probe = {"httpGet": {"path": "/health", "port": 8001}, "periodSeconds": 1, "failureThreshold": 1}
    return ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
             "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {
                 "metadata": {"labels": labels}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                     "name": "web", "image": image, "imagePullPolicy": "Never",
                     "command": ["python3", "model_backend.py", "--host", "0.0.0.0", "--port", "8001"],
                     "readinessProbe": probe}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
             "spec": {"selector": {"app": name}, "ports": [{"port": 8001, "targetPort": 8001}]}})


@dataclass
class Team:
    cluster: LocalCluster
    stack: TeamStack
    ips: dict[str, str]
    core: Any
    apps: Any

    def pods(self, app: str, namespace: str = NAMESPACE) -> list[str]:
        found = self.core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
        return sorted(p.metadata.name for p in found if p.metadata.deletion_timestamp is None)

    def ready(self, app: str, within: float = 60, namespace: str = NAMESPACE) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            d = self.apps.read_namespaced_deployment(app, namespace)
            if (d.status.ready_replicas or 0) == d.spec.replicas and len(self.pods(app, namespace)) == d.spec.replicas:
                return True
            time.sleep(0.2)
        return False


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    cluster_or_skip()
    from kubernetes import client, config

    from gameday.compose.stack import ComposeConfig, ComposeStack

    work = tmp_path_factory.mktemp("team-k8s")
    cluster = LocalCluster(binaries(ROOT), work / "cluster").start()
    stack = None
    try:
        builder = ComposeStack(ComposeConfig(ROOT, work / "image"))
        image = f"gameday-stack:{builder.image_tag()}"
        cluster.load_image(image, builder.ensure_image)
        api = config.new_client_from_config(str(cluster.kubeconfig))
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        ips = {}
        for ns in (NAMESPACE, OTHER):
            core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for ns, name, replicas in ((NAMESPACE, "shop", 1), (NAMESPACE, "cart", 3), (OTHER, "cart", 1)):
            deployment, service = manifest(name, replicas, image)
            made = core.create_namespaced_service(ns, service)
            apps.create_namespaced_deployment(ns, deployment)
            if ns == NAMESPACE:
                ips[name] = made.spec.cluster_ip
        wait_programmed(ips)
        team = Team(cluster, None, ips, core, apps)  # type: ignore[arg-type]
        for ns, name in ((NAMESPACE, "shop"), (NAMESPACE, "cart"), (OTHER, "cart")):
            assert team.ready(name, 120, ns), f"{ns}/{name} is ready"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(_answers(ip) for ip in ips.values()):
            time.sleep(0.2)
        stack = team.stack = team_stack(work / "monitoring", shop_down='up{job="shop"} == 0',
                                        jobs={name: f"{ip}:8001" for name, ip in ips.items()})
        yield team
    finally:
        if stack is not None:
            stack.stop()
        cluster.stop()
    assert leftovers() == [], "the test's cluster is gone"


def _answers(ip: str) -> bool:
    try:
        return requests.get(f"http://{ip}:8001/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def target_file(team: Team, cart: str = "{kind: Deployment, name: cart}", safety: str = "") -> str:
    kube = f"kubeconfig: {team.cluster.kubeconfig}, context: gameday, namespace: {NAMESPACE}"
    cart_platform = cart.replace("{", "{" + kube + ", ", 1)
    return f"""monitoring:
{monitoring(team.stack)}receiver:
  listen: 127.0.0.1:{team.stack.ports['gameday']}
  secret: {{file: {team.stack.secret}}}
services:
  - name: shop
    url: http://{team.ips['shop']}:8001
    probe: {{http: {{path: /health}}}}
    platform: {{kubernetes: {{{kube}, kind: Deployment, name: shop}}}}
  - name: cart
    url: http://{team.ips['cart']}:8001
    probe: {{http: {{path: /health}}}}
    platform: {{kubernetes: {cart_platform}}}
safety:
  allow: [127.0.0.0/8, 10.253.0.0/24]
  faultable: [shop, cart]
  kubernetes: {{namespaces: [{NAMESPACE}]{safety}}}
"""


def project_for(tmp_path: Path, team: Team, kind: str = "stop-service", target: str = "shop", extra: str = "",
                **over: str) -> Path:
    project = team_project(tmp_path, team.stack)
    scenario = SCENARIO.format(kind=kind, service=target, alert="ShopDown").replace("expect:", extra + "expect:")
    (project / "scenarios" / "shop-down.yaml").unlink()
    (project / "scenarios" / f"{target}-down.yaml").write_text(scenario)
    (project / "locustfiles" / "health.py").write_text(HEALTH)
    (project / "targets" / "shop.yaml").write_text(target_file(team, **over))
    return project


def test_a_scale_to_zero_of_a_teams_deployment_pages_passes_and_is_put_back(tmp_path, team):
    project = project_for(tmp_path, team)
    run = drill(project)
    assert run.proc.returncode == 0, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "PASS", journal["reasons"]
    assert journal["alerts"]["ShopDown"]["receiver"] == "oncall" and journal["pages"]["level"] == "delivered"
    text = (project / "reports" / "fault-ledger.jsonl").read_text()
    ledger = [yaml.safe_load(line) for line in text.splitlines()]
    injected = next(e for e in ledger if e["state"] == "injecting")
    assert injected["revert"] == "k8s-workload" and injected["detail"]["kubeconfig"] == str(team.cluster.kubeconfig)
    assert injected["detail"]["workload"] == "shop" and injected["detail"]["selector"] == "app=shop"
    assert team.cluster.token not in text and team.cluster.token not in run.out, "the kubeconfig's token is nowhere"
    assert ledger[-1]["state"] == "reverted", ledger[-1]
    assert team.ready("shop", 5), "the revert waited for shop to be ready"
    notes = [e["note"] for e in journal["events"] if e["event"] == "note"]
    assert "platform: Deployment shop back at 1/1 ready replica(s)" in notes, notes


def test_a_fault_past_the_files_bound_on_pods_is_refused_before_any_pod_is_touched(tmp_path, team):
    before = team.pods("cart")
    project = project_for(tmp_path, team, kind="pod-delete", target="cart", extra="  count: 2\n")
    run = drill(project)
    assert run.proc.returncode != 0, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "ERROR", journal
    said = "safety.kubernetes.max_pods: pod-delete on cart would take down 2 of its 3 pods, past the bound of 1"
    assert any(said in r for r in journal["reasons"]), journal["reasons"]
    assert said in run.out
    assert team.pods("cart") == before, "no pod was deleted"
    assert not (project / "reports" / "fault-ledger.jsonl").exists() or \
        "injecting" not in (project / "reports" / "fault-ledger.jsonl").read_text()
    # the same fault, where the file allows two of three pods (max_percent 67): past preflight
    spec = load_target_file(_write(tmp_path, target_file(team, safety=", max_percent: 67")))
    target = TeamTarget(spec, "targets/shop.yaml")
    target.start()
    try:
        assert target.fault_refusal(PodDeleteFault(kind="pod-delete", target="cart", count=2)) is None
        assert "past the bound of 2" in target.fault_refusal(PodDeleteFault(kind="pod-delete", target="cart",
                                                                            count=3))
    finally:
        target.stop()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "direct" / "targets" / "shop.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_pod_delete_and_a_stress_by_selector_reach_the_selected_pods_and_no_other(tmp_path, team):
    spec = load_target_file(_write(tmp_path, target_file(team, cart="{selector: 'app=cart,team=shop'}")))
    target = TeamTarget(spec, "targets/shop.yaml")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    target.start()
    try:
        before, elsewhere = team.pods("cart"), team.pods("cart", OTHER)
        fault = target.faults.build(target, PodDeleteFault(kind="pod-delete", target="cart"), None, ledger)
        fault.inject()
        after = team.pods("cart")
        assert len(set(before) - set(after)) == 1, (before, after)
        assert team.pods("cart", OTHER) == elsewhere, "the other namespace's pod of the same name is untouched"
        fault.revert()
        assert team.ready("cart", 5) and len(team.pods("cart")) == 3
        assert [e["state"] for e in ledger.entries()] == ["injecting", "reverted"]
        assert target.faults.why_not("stop-service", "shop", "cart") is None
        refusal = target.fault_refusal(type("S", (), {"target": "cart", "kind": "stop-service"})())
        assert "give its kind and name, not a selector alone" in refusal
        stress = target.faults.build(target, CpuStressFault(kind="cpu-stress", target="cart"), None, ledger)
        stress.inject()
        handle = target.workloads.handles["cart"]
        assert handle.api.exec("cart", ["pgrep", "stress-ng"])[0] == 0, "stress-ng runs in a cart pod"
        stress.revert()
        # the team's container does not reap (its first process is the service): an ended stress-ng is a zombie
        assert handle.api.exec("cart", ["sh", "-c", f"[ $({LIVE_STRESS}) -eq 0 ]"])[0] == 0, "none is left alive"
    finally:
        target.stop()


def test_a_teams_deployment_scaled_to_zero_is_put_back_by_the_watchdog_when_the_harness_is_killed(tmp_path, team):
    project = project_for(tmp_path, team)
    proc, seen = until_detect(project)
    try:
        d = team.apps.read_namespaced_deployment("shop", NAMESPACE)
        assert d.spec.replicas == 0, "".join(seen)
        proc.kill()  # SIGKILL: no revert from the harness; the team's cluster stays up
        proc.wait()
        last = reverted_by_watchdog(project, within=60)
        assert "checked against the API server" in last["note"], last
        assert team.ready("shop", 5)
    finally:
        proc.kill()
