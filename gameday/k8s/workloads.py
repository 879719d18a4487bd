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
    def of(cls, detail: dict[str, Any]) -> Access | KubeconfigAccess:
        """The access a ledger entry's detail names: an API server with its CA and token file, or a kubeconfig."""
        if "kubeconfig" in detail or "in_cluster" in detail:
            return KubeconfigAccess(Path(detail["kubeconfig"]) if detail.get("kubeconfig") else None,
                                    detail.get("context"), bool(detail.get("in_cluster")))
        return cls(str(detail["server"]), Path(detail["ca_file"]), Path(detail["token_file"]))


@dataclass(frozen=True)
class KubeconfigAccess:
    """A team's cluster, as its target file names it: a kubeconfig file (and one of its contexts), or the
    service account of the pod the harness runs in (``in_cluster``). The ledger keeps the file's path and the
    context, never what is in the file."""

    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False

    def client(self) -> Any:
        from kubernetes import client, config

        if self.in_cluster:
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
        else:
            cfg = client.Configuration()
            config.load_kube_config(config_file=str(self.kubeconfig) if self.kubeconfig else None,
                                    context=self.context, client_configuration=cfg, persist_config=False)
        cfg.retries = False
        return client.ApiClient(cfg)

    def as_detail(self) -> dict[str, Any]:
        if self.in_cluster:
            return {"in_cluster": True}
        return {"kubeconfig": str(self.kubeconfig) if self.kubeconfig else "", "context": self.context}

    @property
    def server(self) -> str:
        return "in-cluster" if self.in_cluster else f"kubeconfig {self.kubeconfig or '~/.kube/config'}"


@dataclass(frozen=True)
class Ref:
    """Which workload is a service, and which of its pods and container: a Deployment or StatefulSet by name,
    its pods by label selector, the container by name (the pod's first when None)."""

    kind: str
    name: str
    selector: str
    container: str | None = None

    @classmethod
    def lab(cls, app: str) -> Ref:
        return cls("Deployment", app, f"app={app}", app)

    def matches(self, labels: dict[str, str] | None) -> bool:
        """Whether a pod with ``labels`` is one of the workload's (the selector's ``k=v`` terms, all of them)."""
        labels = labels or {}
        terms = [t.split("=", 1) for t in self.selector.split(",") if t]
        return bool(terms) and all(labels.get(k.strip()) == v.strip() for k, v in terms)

    def as_detail(self) -> dict[str, Any]:
        return {"kind": self.kind, "workload": self.name, "selector": self.selector, "container": self.container}

    @classmethod
    def of(cls, detail: dict[str, Any], app: str) -> Ref:
        if "workload" not in detail:
            return cls.lab(app)
        return cls(str(detail["kind"]), str(detail["workload"]), str(detail["selector"]), detail.get("container"))


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


def pod_ready(pod: Any) -> bool:
    """The pod's Ready condition is true (its readiness probes answer)."""
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


class Cluster:
    """The harness's reads and writes of one namespace's workloads. Each is known by the service it is (``app``):
    the lab's by the ``app`` label its Deployment of that name carries, a team's by its ``Ref``."""

    def __init__(self, access: Access | KubeconfigAccess, namespace: str, refs: dict[str, Ref] | None = None) -> None:
        from kubernetes import client

        self.access, self.namespace = access, namespace
        self.refs = dict(refs or {})
        self.api = access.client()
        self.core, self.apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()

    def ref(self, app: str) -> Ref:
        return self.refs.get(app) or Ref.lab(app)

    def app_of(self, labels: dict[str, str] | None) -> str:
        """The service a pod with ``labels`` belongs to ("" for none)."""
        if not self.refs:
            return (labels or {}).get("app", "")
        return next((app for app, ref in self.refs.items() if ref.matches(labels)), "")

    def create_namespace(self) -> None:
        self.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": self.namespace, "labels": {LABEL: "namespace"}}})

    def pods(self, app: str, terminating: bool = False) -> list[Any]:
        """The pods of ``app``, oldest first: those not being deleted, or (``terminating``) all of them."""
        found = self.core.list_namespaced_pod(self.namespace, label_selector=self.ref(app).selector).items
        live = [p for p in found if terminating or p.metadata.deletion_timestamp is None]
        return sorted(live, key=lambda p: p.metadata.creation_timestamp)

    def pod(self, app: str) -> Any:
        pods = self.pods(app)
        if not pods:
            raise HarnessError(f"no pod of {app} in namespace {self.namespace}")
        return pods[-1]

    def container_name(self, app: str, pod: Any) -> str:
        return self.ref(app).container or pod.spec.containers[0].name

    def container_status(self, app: str) -> Any | None:
        """The status of ``app``'s container in its newest pod (None before the kubelet has reported it)."""
        pod = self.pod(app)
        name = self.container_name(app, pod)
        return next((s for s in pod.status.container_statuses or [] if s.name == name), None)

    def workload(self, app: str) -> Any:
        """The Deployment or StatefulSet of ``app``."""
        ref = self.ref(app)
        if ref.kind == "StatefulSet":
            return self.apps.read_namespaced_stateful_set(ref.name, self.namespace)
        if not ref.kind:
            raise HarnessError(f"{app}: its pods are named by a selector alone ({ref.selector}): no workload")
        return self.apps.read_namespaced_deployment(ref.name, self.namespace)

    def ready_replicas(self, app: str) -> tuple[int, int]:
        """(ready replicas, wanted replicas) of the workload; for pods named by a selector alone, (ready pods,
        pods)."""
        if not self.ref(app).kind:
            pods = self.pods(app)
            return sum(1 for p in pods if pod_ready(p)), len(pods)
        d = self.workload(app)
        return d.status.ready_replicas or 0, d.spec.replicas or 0

    def scale(self, app: str, replicas: int) -> None:
        ref = self.ref(app)
        body = {"spec": {"replicas": replicas}}
        if ref.kind == "StatefulSet":
            self.apps.patch_namespaced_stateful_set_scale(ref.name, self.namespace, body)
        else:
            self.apps.patch_namespaced_deployment_scale(ref.name, self.namespace, body)

    def patch_template(self, app: str, patch: dict[str, Any], content_type: str) -> None:
        """Patch the Deployment's pod template (``bad-rollout`` and its revert)."""
        self.apps.patch_namespaced_deployment(self.ref(app).name, self.namespace,
                                              {"spec": {"template": patch}}, _content_type=content_type)

    def exec(self, app: str, argv: list[str], timeout: float = 10.0) -> tuple[int, str]:
        """Run ``argv`` in ``app``'s container through the API server; its exit code (read from the exec's error
        channel) and its output."""
        from kubernetes.stream import stream

        pod = self.pod(app)
        resp = stream(self.core.connect_get_namespaced_pod_exec, pod.metadata.name, self.namespace,
                      container=self.container_name(app, pod), command=argv, stderr=True, stdin=False, stdout=True,
                      tty=False, _preload_content=False, _request_timeout=timeout)
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
            d = self.workload(app)
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
