"""The k8s target's discovery and scrape config, without a cluster: the Services' endpoints as the ``endpoints``
role gives them (ready and not, each with its pod's labels), and the lab's static jobs turned into jobs that keep
only their own Service's port."""

from __future__ import annotations

from types import SimpleNamespace as NS  # noqa: N814 - short, for the test data

from gameday.k8s.discovery import endpoint_targets
from gameday.k8s.stack import NAMESPACE, discover_pods


def pod(name: str, app: str) -> NS:
    return NS(metadata=NS(name=name, labels={"app": app, "io.gameday/x": "1"}), spec=NS(node_name="gameday-node"))


def address(ip: str, pod_name: str | None) -> NS:
    return NS(ip=ip, target_ref=NS(name=pod_name) if pod_name else None)


def endpoints(name: str, ready: list[NS], not_ready: list[NS]) -> NS:
    return NS(metadata=NS(name=name, namespace="gameday"), subsets=[NS(
        addresses=ready, not_ready_addresses=not_ready, ports=[NS(port=8000, name="http", protocol="TCP")])])


def test_a_crashed_pod_stays_a_target_marked_not_ready_with_its_labels():
    eps = [endpoints("inference-gateway", [address("10.252.0.4", "gw-new")], [address("10.252.0.3", "gw-old")])]
    groups = endpoint_targets(eps, [pod("gw-old", "inference-gateway"), pod("gw-new", "inference-gateway")])
    assert [g["targets"] for g in groups] == [["10.252.0.4:8000"], ["10.252.0.3:8000"]]
    ready = {g["labels"]["__meta_kubernetes_pod_name"]: g["labels"]["__meta_kubernetes_endpoint_ready"] for g in groups}
    assert ready == {"gw-new": "true", "gw-old": "false"}
    labels = groups[1]["labels"]
    assert labels["__meta_kubernetes_service_name"] == "inference-gateway"
    assert labels["__meta_kubernetes_pod_label_app"] == "inference-gateway"
    assert labels["__meta_kubernetes_pod_label_io_gameday_x"] == "1", "label names made Prometheus-safe"
    assert labels["__meta_kubernetes_endpoint_port_name"] == "http"


def test_an_address_without_a_pod_and_a_service_without_endpoints():
    groups = endpoint_targets([endpoints("model-backend", [address("10.252.0.9", None)], []),
                               NS(metadata=NS(name="empty", namespace="gameday"), subsets=None)], [])
    assert len(groups) == 1 and "__meta_kubernetes_pod_name" not in groups[0]["labels"]
    assert groups[0]["labels"]["__meta_kubernetes_endpoint_address_target_kind"] == ""


def test_the_lab_jobs_scrape_their_services_endpoints_and_the_cgroup_job_is_left_out():
    prom = {"scrape_configs": [
        {"job_name": "inference-gateway", "static_configs": [{"targets": ["-"]}]},
        {"job_name": "model-backend", "static_configs": [{"targets": ["-"]}]},
        {"job_name": "containers", "static_configs": [{"targets": ["-"]}]}]}
    jobs = discover_pods(prom, "http://127.0.0.1:9/endpoints")["scrape_configs"]
    assert [j["job_name"] for j in jobs] == ["inference-gateway", "model-backend"]
    for job in jobs:
        assert "static_configs" not in job
        assert job["http_sd_configs"] == [{"url": "http://127.0.0.1:9/endpoints", "refresh_interval": "1s"}]
        keep = {r["source_labels"][0]: r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
        assert keep == {"__meta_kubernetes_namespace": NAMESPACE, "__meta_kubernetes_service_name": job["job_name"],
                        "__meta_kubernetes_endpoint_port_name": "http"}
