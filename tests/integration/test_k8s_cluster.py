"""The local Kubernetes cluster (``gameday.k8s.cluster``): built from Debian's source package, started, a
Deployment of the project's own image Ready with its pod answering from this host, and nothing left once it
stops. Needs root (a kubelet, containerd, a bridge) and a Docker engine (the images come from it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from gameday.compose.stack import ComposeConfig, ComposeStack
from gameday.k8s.cluster import LocalCluster, binaries
from gameday.k8s.sweep import leftovers
from tests.conftest import ROOT
from tests.integration.test_compose import docker_or_skip

# alone, after the parallel tests: the cluster's start takes CPU that their timings need
pytestmark = pytest.mark.whole_machine


START = """
import sys
from pathlib import Path
from gameday.k8s.cluster import LocalCluster
c = LocalCluster(Path(sys.argv[1]), Path(sys.argv[2])).start()
print("up", flush=True)
import time
time.sleep(600)
"""


def test_a_cluster_whose_run_is_killed_outright_is_swept_by_its_guard(tmp_path):
    """SIGKILL of the run that started the cluster: its guard takes the lock the kernel let go of and removes
    every process, pod network, mount, cgroup and address it left."""
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root")
    run = subprocess.Popen([sys.executable, "-c", START, str(binaries(ROOT)), str(tmp_path / "cluster")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        assert run.stdout is not None
        seen = [run.stdout.readline() for _ in range(1)]
        assert seen == ["up\n"], seen + [run.stdout.read()[-2000:]]
        assert any(line.startswith("address ") for line in leftovers()), "the cluster is up"
        run.kill()
        run.wait()
        deadline = time.monotonic() + 60
        while leftovers() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert leftovers() == []
        assert "swept" in (tmp_path / "cluster" / "logs" / "guard.log").read_text()
    finally:
        run.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root")
    docker_or_skip()
    work = tmp_path_factory.mktemp("k8s")
    image = ComposeStack(ComposeConfig(ROOT, work / "image", project=f"gameday-image-{os.getpid()}"))
    image.ensure_image()
    c = LocalCluster(binaries(ROOT), work / "cluster")
    with c:
        c.load_image(f"gameday-stack:{image.image_tag()}")
        c.image = f"gameday-stack:{image.image_tag()}"
        yield c
    assert leftovers() == [], "nothing of the cluster is left once it stops"


def test_a_deployment_of_the_projects_image_is_ready_and_its_pod_answers_from_this_host(cluster):
    from kubernetes import client, config

    config.load_kube_config(str(cluster.kubeconfig))
    apps, core = client.AppsV1Api(), client.CoreV1Api()
    labels = {"app": "model-backend"}
    container = client.V1Container(
        name="backend", image=cluster.image, image_pull_policy="Never",
        command=["python3", "model_backend.py", "--host", "0.0.0.0", "--port", "8001"],
        readiness_probe=client.V1Probe(http_get=client.V1HTTPGetAction(path="/health", port=8001),
                                       period_seconds=1))
    apps.create_namespaced_deployment("default", client.V1Deployment(
        metadata=client.V1ObjectMeta(name="model-backend"),
        spec=client.V1DeploymentSpec(replicas=1, selector=client.V1LabelSelector(match_labels=labels),
                                     template=client.V1PodTemplateSpec(
                                         metadata=client.V1ObjectMeta(labels=labels),
                                         spec=client.V1PodSpec(containers=[container],
                                                               automount_service_account_token=False)))))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        d = apps.read_namespaced_deployment("model-backend", "default")
        if (d.status.ready_replicas or 0) == 1:
            break
        time.sleep(0.5)
    assert (d.status.ready_replicas or 0) == 1, d.status
    (pod,) = core.list_namespaced_pod("default", label_selector="app=model-backend").items
    assert pod.status.pod_ip.startswith("10.252.0."), pod.status.pod_ip
    assert requests.get(f"http://{pod.status.pod_ip}:8001/health", timeout=5).status_code == 200
    assert "model_inferences_total" in requests.get(f"http://{pod.status.pod_ip}:8001/metrics", timeout=5).text
