"""The pods of the run's namespace as Prometheus targets, for a Prometheus built without Kubernetes discovery.

Debian's Prometheus has no ``kubernetes_sd_configs`` at all (its packagers removed Kubernetes support, whose
client library Debian does not carry). So the harness asks the API server for the namespace's pods at each of
Prometheus's refreshes and answers in Prometheus's HTTP service discovery format (``http_sd_configs``), with the
meta labels the ``pod`` role of ``kubernetes_sd_configs`` gives: one target per container port of each pod that
has an address. The scrape config's relabelling is the one a team writes for ``kubernetes_sd_configs``; only the
transport differs. A team's own Prometheus with Kubernetes discovery needs none of this.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gameday.core.httpserver import LoopbackServer, QuietHandler
from gameday.k8s.workloads import Access, Cluster

PATH = "/pods"


def _name(label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def pod_targets(pods: list[Any]) -> list[dict[str, Any]]:
    """Target groups in the HTTP SD format, with the ``pod`` role's meta labels."""
    groups = []
    for pod in pods:
        ip = pod.status.pod_ip if pod.status else None
        if not ip:
            continue
        ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
        base = {"__meta_kubernetes_namespace": pod.metadata.namespace,
                "__meta_kubernetes_pod_name": pod.metadata.name, "__meta_kubernetes_pod_ip": ip,
                "__meta_kubernetes_pod_phase": pod.status.phase or "",
                "__meta_kubernetes_pod_ready": str(ready).lower(),
                "__meta_kubernetes_pod_node_name": pod.spec.node_name or ""}
        base |= {f"__meta_kubernetes_pod_label_{_name(k)}": v for k, v in (pod.metadata.labels or {}).items()}
        for c in pod.spec.containers:
            for p in c.ports or []:
                groups.append({"targets": [f"{ip}:{p.container_port}"], "labels": base | {
                    "__meta_kubernetes_pod_container_name": c.name,
                    "__meta_kubernetes_pod_container_port_number": str(p.container_port),
                    "__meta_kubernetes_pod_container_port_name": p.name or ""}})
    return groups


class PodDiscovery:
    """``GET /pods``: the namespace's pods as target groups, read from the API server at each request."""

    def __init__(self, access: Access, namespace: str) -> None:
        api = Cluster(access, namespace)
        self.api = api

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path != PATH:
                    self.send_error(404)
                    return
                try:
                    body = json.dumps(pod_targets(api.core.list_namespaced_pod(namespace).items)).encode()
                except Exception as exc:  # noqa: BLE001 - Prometheus keeps its last targets on an error
                    self.send_error(503, f"the API server did not list the pods: {type(exc).__name__}")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = LoopbackServer(Handler, "k8s-pod-discovery")

    @property
    def url(self) -> str:
        return self.server.url + PATH

    def start(self) -> PodDiscovery:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.api.close()
