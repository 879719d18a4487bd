"""Locust workers as a Deployment in the local cluster, for a drill on ``--target k8s`` whose scenario asks for
``load.workers``: the load then comes from pods, as a team's would from its own cluster, and goes to the
Services' cluster IPs as a client in the cluster sends it.

The master stays a process of the harness (its statistics, web API and shape are the drill's); it listens on
the pod bridge's address on this host, which the workers reach. The workers' image is the stack's with the
harness's own Locust version added (``docker/locust.Dockerfile``; a worker must speak its master's protocol),
built once in the Docker engine from wheels pip downloads, and moved into the cluster's containerd. The
locustfiles reach the pods in a ConfigMap. A worker pod that is not running, restarted, or gone is a worker
gone: the drill is then ERROR (``gameday.drill.context``), as with local workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gameday.core.errors import HarnessError
from gameday.k8s.sweep import BRIDGE
from gameday.k8s.workloads import LABEL, Ref

NAME = "locust-worker"
FILES = "locust-files"
DOCKERFILE = Path(__file__).resolve().parents[2] / "docker" / "locust.Dockerfile"


def bridge_address() -> str:
    """The pod bridge's address on this host: the pods' gateway, where the master listens for its workers."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE], capture_output=True, text=True,
                         timeout=10).stdout.split()
    if "inet" not in out:
        raise HarnessError(f"the cluster's bridge {BRIDGE} has no address: no pod runs yet")
    return out[out.index("inet") + 1].split("/", 1)[0]


class ClusterWorkers:
    """The workers of one Locust run, as a Deployment of ``NAME`` in the stack's namespace."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.api = stack.api
        self.bind_host = bridge_address()
        self.count = 0
        self._seen_running: set[str] = set()

    # -- the image -------------------------------------------------------------------------------
    def image(self) -> str:
        """``gameday-locust:TAG``, in the cluster's containerd; built where the engine has none."""
        version = importlib.metadata.version("locust")
        base = self.stack.image
        tag = hashlib.sha256(DOCKERFILE.read_bytes() + f"{version} {base}".encode()).hexdigest()[:12]
        ref = f"gameday-locust:{tag}"
        self.stack.cluster.load_image(ref, lambda: self._build(ref, base, version))
        return ref

    def _build(self, ref: str, base: str, version: str) -> None:
        from gameday.compose.engine import engine

        client = engine()
        with contextlib.suppress(Exception):
            client.images.get(ref)
            return
        ctx = self.stack.config.workdir / "locust-image"
        shutil.rmtree(ctx, ignore_errors=True)
        (ctx / "wheels").mkdir(parents=True)
        shutil.copy(DOCKERFILE, ctx / "locust.Dockerfile")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                               "--only-binary=:all:", "-d", str(ctx / "wheels"), f"locust=={version}", "pip"],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise HarnessError(f"pip could not download Locust {version} for the workers' image: "
                               f"{done.stderr.strip()[-300:]}")
        try:
            client.images.build(path=str(ctx), dockerfile="locust.Dockerfile", tag=ref, rm=True,
                                buildargs={"BASE": base, "LOCUST": version})
        except Exception as exc:  # the SDK's BuildError and APIError: one line
            raise HarnessError(f"could not build the Locust workers' image {ref}: {exc}") from None

    # -- the workers -----------------------------------------------------------------------------
    def start(self, count: int, port: int, files: list[Path]) -> None:
        """``count`` worker pods that load ``files`` and connect to the master at ``bind_host:port``."""
        image = self.image()
        ns = self.api.namespace
        self.stop()
        self.api.core.create_namespaced_config_map(ns, {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": FILES, "labels": {LABEL: NAME}},
            "data": {f.name: f.read_text() for f in files}})
        labels = {"app": NAME, LABEL: NAME}
        argv = ["python3", "-m", "locust", "-f", ",".join(f"/locust/{f.name}" for f in files), "--worker",
                "--master-host", self.bind_host, "--master-port", str(port), "--loglevel", "WARNING"]
        self.api.apps.create_namespaced_deployment(ns, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "labels": labels},
            "spec": {"replicas": count, "selector": {"matchLabels": {"app": NAME}}, "template": {
                "metadata": {"labels": labels},
                "spec": {"terminationGracePeriodSeconds": 1, "enableServiceLinks": False, "containers": [{
                    "name": NAME, "image": image, "imagePullPolicy": "Never", "command": argv,
                    "workingDir": "/locust", "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
                    "volumeMounts": [{"name": "files", "mountPath": "/locust"}]}],
                    "volumes": [{"name": "files", "configMap": {"name": FILES}}]}}}})
        self.api.refs[NAME] = Ref.lab(NAME)
        self.count = count

    def gone(self) -> list[str]:
        """The worker pods that stopped making requests: one seen running that is no longer (deleted, ended, or
        restarted by the kubelet, which cut its connection to the master). A pod still starting is not gone."""
        if not self.count:
            return []
        try:
            pods = self.api.pods(NAME, terminating=True)
        except Exception:  # noqa: BLE001 - the API server did not answer: not a worker's fault, look again
            return []
        said, now = [], set()
        for pod in pods:
            name = pod.metadata.name
            st = next(iter(pod.status.container_statuses or []), None)
            if st is not None and st.restart_count:
                said.append(f"worker pod {name} restarted ({st.restart_count})")
            running = st is not None and st.state.running is not None and pod.metadata.deletion_timestamp is None
            if running:
                now.add(name)
            elif name in self._seen_running:
                said.append(f"worker pod {name} no longer runs")
        said += [f"worker pod {name} gone" for name in sorted(self._seen_running - {p.metadata.name for p in pods})]
        self._seen_running |= now
        return said

    def pods_running(self) -> int:
        return sum(1 for p in self.api.pods(NAME) if any(s.state.running for s in p.status.container_statuses or []))

    def stop(self, within: float = 20.0) -> None:
        """The Deployment and its ConfigMap deleted, and its pods waited for (bounded)."""
        from kubernetes.client.exceptions import ApiException

        ns = self.api.namespace
        for delete in (lambda: self.api.apps.delete_namespaced_deployment(NAME, ns, grace_period_seconds=0,
                                                                        propagation_policy="Foreground"),
                       lambda: self.api.core.delete_namespaced_config_map(FILES, ns)):
            with contextlib.suppress(ApiException):
                delete()
        self.count = 0
        self._seen_running.clear()
        deadline = time.monotonic() + within
        with contextlib.suppress(ApiException):
            while self.api.pods(NAME, terminating=True) and time.monotonic() < deadline:
                for pod in self.api.pods(NAME):
                    with contextlib.suppress(ApiException):
                        self.api.core.delete_namespaced_pod(pod.metadata.name, ns, grace_period_seconds=0)
                time.sleep(0.2)
