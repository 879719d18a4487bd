"""The Services' endpoints of the run's namespace as Prometheus targets, for a Prometheus built without
Kubernetes discovery.

Debian's Prometheus has no ``kubernetes_sd_configs`` at all (its packagers removed Kubernetes support, whose
client library Debian does not carry). So the harness asks the API server for the namespace's Endpoints (and
their pods' labels) at each of Prometheus's refreshes and answers in Prometheus's HTTP service discovery format
(``http_sd_configs``), with the meta labels the ``endpoints`` role of ``kubernetes_sd_configs`` gives: one target
per address and port, ready or not. A pod whose container crashed is a not-ready address, so it stays a target,
scraped and down; a pod being deleted leaves its Service's endpoints at once, as it leaves Prometheus's targets
under the ``endpoints`` role. The scrape config's relabelling is the one a team writes for
``kubernetes_sd_configs``; only the transport differs. A team's own Prometheus with Kubernetes discovery needs none
of this.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gameday.core.httpserver import LoopbackServer, QuietHandler
from gameday.k8s.workloads import Access, Cluster

PATH = "/endpoints"


def _name(label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def endpoint_targets(endpoints: list[Any], pods: list[Any]) -> list[dict[str, Any]]:
    """Target groups in the HTTP SD format, with the ``endpoints`` role's meta labels (and its pod labels)."""
    by_name = {p.metadata.name: p for p in pods}
    groups = []
    for ep in endpoints:
        for subset in ep.subsets or []:
            addresses = [(a, "true") for a in subset.addresses or []] + \
                        [(a, "false") for a in subset.not_ready_addresses or []]
            for address, ready in addresses:
                pod = by_name.get(address.target_ref.name) if address.target_ref is not None else None
                base = {"__meta_kubernetes_namespace": ep.metadata.namespace,
                        "__meta_kubernetes_service_name": ep.metadata.name,
                        "__meta_kubernetes_endpoint_ready": ready,
                        "__meta_kubernetes_endpoint_address_target_kind": "Pod" if pod is not None else ""}
                if pod is not None:
                    base |= {"__meta_kubernetes_pod_name": pod.metadata.name,
                             "__meta_kubernetes_pod_ip": address.ip,
                             "__meta_kubernetes_pod_node_name": pod.spec.node_name or ""}
                    base |= {f"__meta_kubernetes_pod_label_{_name(k)}": v
                             for k, v in (pod.metadata.labels or {}).items()}
                for port in subset.ports or []:
                    groups.append({"targets": [f"{address.ip}:{port.port}"], "labels": base | {
                        "__meta_kubernetes_endpoint_port_name": port.name or "",
                        "__meta_kubernetes_endpoint_port_protocol": port.protocol or "TCP"}})
    return groups


class PodDiscovery:
    """``GET /endpoints``: the namespace's endpoints as target groups, read from the API server at each
    request."""

    def __init__(self, access: Access, namespace: str) -> None:
        api = Cluster(access, namespace)
        self.api = api

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path != PATH:
                    self.send_error(404)
                    return
                try:
                    body = json.dumps(endpoint_targets(api.core.list_namespaced_endpoints(namespace).items,
                                                       api.core.list_namespaced_pod(namespace).items)).encode()
                except Exception as exc:  # noqa: BLE001 - Prometheus keeps its last targets on an error
                    self.send_error(503, f"the API server did not list the endpoints: {type(exc).__name__}")
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
