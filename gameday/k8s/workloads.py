"""The lab's services as Kubernetes workloads, through the official ``kubernetes`` client: the API client of a
cluster, the gateway and backend as Deployments behind Services, and what the harness reads of them (the pod
that serves a Deployment now, its container's state, its readiness).

Each service's pod mounts an ``emptyDir`` at ``/run/gameday``: it outlives a container's restart, so the image's
``restart-delay`` entrypoint knows a restart from a first start (and waits the restart back-off), and a crash
fault can leave the back-off of the one restart it causes there.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.core.errors import HarnessError

LABEL = "io.gameday.service"
"""On every Deployment, Service and pod the harness makes: which lab service it is."""


@dataclass(frozen=True)
class Access:
    """How to reach an API server: its URL, the CA that signed it, and a file holding the bearer token (the token
    itself never goes into a ledger or a journal)."""

    server: str
    ca_file: Path
    token_file: Path

    def client(self) -> Any:
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.server
        cfg.ssl_ca_cert = str(self.ca_file)
        cfg.api_key = {"authorization": self.token_file.read_text().strip()}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        cfg.retries = False
        return client.ApiClient(cfg)

    def as_detail(self) -> dict[str, str]:
        return {"server": self.server, "ca_file": str(self.ca_file), "token_file": str(self.token_file)}

    @classmethod
    def of(cls, detail: dict[str, Any]) -> Access:
        return cls(str(detail["server"]), Path(detail["ca_file"]), Path(detail["token_file"]))


@dataclass(frozen=True)
class Workload:
    """One lab service as a Deployment: its name, port, command and restart back-off (seconds, already scaled)."""

    name: str
    port: int
    command: list[str]
    restart_delay: float


def deployment(w: Workload, image: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/health", "port": w.port}, "periodSeconds": 1, "timeoutSeconds": 1,
             "failureThreshold": 1, "successThreshold": 1}
    labels = {"app": w.name, LABEL: w.name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": w.name, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": w.name}}, "template": {
            "metadata": {"labels": labels},
            # one process namespace for the pod: its sandbox (pause) is PID 1 and reaps what a service leaves, as
            # the Compose stack's init does (a stress-ng ended by the revert is then gone, not a zombie)
            "spec": {"terminationGracePeriodSeconds": 2, "enableServiceLinks": False, "shareProcessNamespace": True,
                     "containers": [{
                "name": w.name, "image": image, "imagePullPolicy": "Never",  # moved in; nothing is pulled
                "command": ["restart-delay", *w.command],
                "env": [{"name": "RESTART_DELAY", "value": f"{w.restart_delay:.3f}"}],
                "ports": [{"containerPort": w.port, "name": "http"}],
                "readinessProbe": probe,
                "volumeMounts": [{"name": "run", "mountPath": "/run/gameday"}]}],
                "volumes": [{"name": "run", "emptyDir": {"medium": "Memory"}}]}}}}


def service(w: Workload) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": w.name, "labels": {LABEL: w.name}},
            "spec": {"selector": {"app": w.name}, "ports": [{"port": w.port, "targetPort": w.port, "name": "http"}]}}


class Cluster:
    """The harness's reads and writes of one namespace's workloads."""

    def __init__(self, access: Access, namespace: str) -> None:
        from kubernetes import client

        self.access, self.namespace = access, namespace
        self.api = access.client()
        self.core, self.apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()

    def create_namespace(self) -> None:
        self.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": self.namespace, "labels": {LABEL: "namespace"}}})

    def pods(self, app: str, terminating: bool = False) -> list[Any]:
        """The pods of ``app``, oldest first: those not being deleted, or (``terminating``) all of them."""
        found = self.core.list_namespaced_pod(self.namespace, label_selector=f"app={app}").items
        live = [p for p in found if terminating or p.metadata.deletion_timestamp is None]
        return sorted(live, key=lambda p: p.metadata.creation_timestamp)

    def pod(self, app: str) -> Any:
        pods = self.pods(app)
        if not pods:
            raise HarnessError(f"no pod of {app} in namespace {self.namespace}")
        return pods[-1]

    def container_status(self, app: str) -> Any | None:
        """The status of ``app``'s container in its newest pod (None before the kubelet has reported it)."""
        statuses = self.pod(app).status.container_statuses or []
        return next((s for s in statuses if s.name == app), None)

    def ready_replicas(self, app: str) -> tuple[int, int]:
        """(ready replicas, wanted replicas) of the Deployment."""
        d = self.apps.read_namespaced_deployment(app, self.namespace)
        return d.status.ready_replicas or 0, d.spec.replicas or 0

    def scale(self, app: str, replicas: int) -> None:
        self.apps.patch_namespaced_deployment_scale(app, self.namespace, {"spec": {"replicas": replicas}})

    def exec(self, app: str, argv: list[str], timeout: float = 10.0) -> tuple[int, str]:
        """Run ``argv`` in ``app``'s container through the API server; its exit code (read from the exec's error
        channel) and its output."""
        from kubernetes.stream import stream

        resp = stream(self.core.connect_get_namespaced_pod_exec, self.pod(app).metadata.name, self.namespace,
                      container=app, command=argv, stderr=True, stdin=False, stdout=True, tty=False,
                      _preload_content=False, _request_timeout=timeout)
        try:
            resp.run_forever(timeout=timeout)
            out = resp.read_stdout() + resp.read_stderr()
            code = resp.returncode
        finally:
            resp.close()
        return (code if code is not None else -1), out

    def wait_rolled_out(self, app: str, timeout: float) -> bool:
        """Whether the Deployment's rollout finished within ``timeout``: every replica of the current template,
        ready, and none of an older one left (what ``kubectl rollout status`` waits for)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.apps.read_namespaced_deployment(app, self.namespace)
            s, wanted = d.status, d.spec.replicas or 0
            if (s.observed_generation or 0) >= d.metadata.generation and (s.updated_replicas or 0) == wanted \
                    and (s.replicas or 0) == wanted and (s.available_replicas or 0) == wanted:
                return True
            time.sleep(0.2)
        return False

    def wait_ready(self, app: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, wanted = self.ready_replicas(app)
            if wanted and ready >= wanted:
                return True
            time.sleep(0.1)
        return False
