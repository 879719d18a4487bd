"""The embedded lab on its own: real processes, real config, as the drills use it."""

from __future__ import annotations

import time

import pytest
import requests

from gameday.lab.stack import BACKEND, GATEWAY, LINK, Lab, LabConfig
from tests.conftest import ROOT
from tests.integration.conftest import page_after_reset_is_new


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(LabConfig(ROOT, tmp_path_factory.mktemp("lab"), time_scale=60)) as lab:
        yield lab


def test_gateway_serves_predictions_and_metrics(lab):
    gw = lab.endpoints.gateway
    resp = requests.post(f"{gw}/v1/predict", json={"inputs": [0.1, 0.2]}, timeout=5)
    assert resp.status_code == 200 and 0 <= resp.json()["prediction"]["score"] <= 1
    assert requests.post(f"{gw}/v1/predict", data="nope", timeout=5).status_code == 400
    metrics = requests.get(f"{gw}/metrics", timeout=5).text
    assert 'http_requests_total{endpoint="/v1/predict",method="POST",status="200"}' in metrics
    assert "http_request_duration_seconds_bucket" in metrics and "process_cpu_seconds_total" in metrics


def test_gateway_answers_502_while_the_backend_is_stopped(lab):
    gw = lab.endpoints.gateway
    lab.supervisor.stop(BACKEND)
    try:
        resp = requests.post(f"{gw}/v1/predict", json={"inputs": [1]}, timeout=5)
        assert resp.status_code == 502 and "unreachable" in resp.json()["error"]
    finally:
        lab.supervisor.start(BACKEND)
    deadline = time.monotonic() + 10
    while not lab.service_healthy(BACKEND) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert requests.post(f"{gw}/v1/predict", json={"inputs": [1]}, timeout=5).status_code == 200


def predict_seconds(lab: Lab) -> float:
    t0 = time.monotonic()
    resp = requests.post(f"{lab.endpoints.gateway}/v1/predict", json={"inputs": [0.5]}, timeout=5)
    assert resp.status_code == 200, resp.text
    return time.monotonic() - t0


def test_latency_is_added_on_the_backends_link_and_taken_away(lab):
    from gameday.lab.faults import AddLatency

    fast = min(predict_seconds(lab) for _ in range(5))
    fault = AddLatency(lab.endpoints.link, BACKEND, 0.3)
    with fault:  # injects; reverts on the way out
        assert requests.get(f"{lab.endpoints.link}/delay", timeout=2).json() == {"delay_ms": 300}
        slow = [predict_seconds(lab) for _ in range(3)]
        assert all(0.3 <= s < 0.3 + 0.25 for s in slow), slow  # every request waits, and only by the delay
        direct = time.monotonic()
        requests.post(f"{lab.endpoints.backend}/infer", json={"inputs": [1]}, timeout=5).raise_for_status()
        assert time.monotonic() - direct < 0.2, "the backend itself is not slowed: the path to it is"
    assert requests.get(f"{lab.endpoints.link}/delay", timeout=2).json() == {"delay_ms": 0}
    assert min(predict_seconds(lab) for _ in range(5)) < fast + 0.1


def test_a_share_of_requests_is_cut_on_the_link_and_the_gateway_answers_502(lab):
    from gameday.lab.faults import FailRequests

    gateway = lab.endpoints.gateway
    with FailRequests(lab.endpoints.link, BACKEND, 50):
        assert requests.get(f"{lab.endpoints.link}/fail", timeout=2).json()["percent"] == 50
        codes = [requests.post(f"{gateway}/v1/predict", json={"inputs": [1]}, timeout=5).status_code
                 for _ in range(80)]
    assert set(codes) == {200, 502}, "only the cut requests fail, as 502 from the gateway"
    assert 20 <= codes.count(502) <= 60, codes.count(502)  # 50% of 80: 40, binomial sd 4.5
    assert requests.get(f"{lab.endpoints.link}/fail", timeout=2).json()["percent"] == 0
    assert all(requests.post(f"{gateway}/v1/predict", json={"inputs": [1]}, timeout=5).status_code == 200
               for _ in range(20))


def test_the_lab_adds_latency_only_on_the_backends_link(lab):
    assert lab.faults.why_not("latency", "lab", BACKEND) is None
    why = lab.faults.why_not("latency", "lab", GATEWAY)
    assert why == ("the lab target can do fault kind 'latency' only on model-backend: the lab acts on the "
                   "gateway's link to its backend")


def test_the_link_refuses_a_delay_it_cannot_hold(lab):
    for ms in ("-1", "60001", "soon"):
        assert requests.put(f"{lab.endpoints.link}/delay", params={"ms": ms}, timeout=2).status_code == 400
    assert requests.get(f"{lab.endpoints.link}/delay", timeout=2).json() == {"delay_ms": 0}


def test_after_a_clean_slate_an_alert_pages_as_a_new_incident(lab):
    page_after_reset_is_new(lab)


def test_prometheus_runs_the_time_scaled_rules(lab):
    rules = lab.prometheus.alerting_rules()
    assert rules["HighErrorRate"].for_s == 2.0 and "[5s]" in rules["HighErrorRate"].query
    assert rules["ServiceDown"].for_s == 0.5
    assert rules["ServiceDown"].annotations["runbook_url"].endswith("/runbooks/003-service-down.md")
    deadline = time.monotonic() + 5  # an earlier test restarted the backend; wait for the next scrape
    every = {GATEWAY: True, BACKEND: True, "containers": True}  # the container exporter is scraped too
    while lab.prometheus.targets_up() != every and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.prometheus.targets_up() == every


def test_alertmanager_runs_the_time_scaled_routes(lab):
    config = lab.alertmanager.config()
    assert config["route"]["group_wait"] == "167ms" and config["route"]["group_interval"] == "500ms"
    assert set(lab.alertmanager.receivers()) >= {"pager", "chat"}


def test_supervisor_control_api_lists_and_restarts(lab):
    url = lab.endpoints.supervisor
    services = requests.get(f"{url}/services", timeout=5).json()
    assert set(services) == {GATEWAY, BACKEND, LINK, "container-exporter", "prometheus", "alertmanager"}
    before = services[BACKEND]["pid"]
    resp = requests.post(f"{url}/services/{BACKEND}/restart", timeout=10)
    assert resp.status_code == 200
    assert requests.post(f"{url}/services/nope/start", timeout=5).status_code == 404
    deadline = time.monotonic() + 10
    while not lab.service_healthy(BACKEND) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.supervisor.pid(BACKEND) not in (None, before)


def test_a_route_to_an_unknown_receiver_is_one_line_before_anything_starts(tmp_path):
    import shutil

    from gameday.core.errors import ConfigError

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    routes = config / "alertmanager/alertmanager.yml"
    routes.write_text(routes.read_text().replace("receiver: pager", "receiver: pagr"))
    lab = Lab(LabConfig(ROOT, tmp_path / "lab", time_scale=60, config_dir=config))
    with pytest.raises(ConfigError) as err:
        lab.__enter__()
    want = 'route/receivers: amtool check-config failed: undefined receiver "pagr" used in route'
    assert str(err.value) == f"{routes}: {want}"
    assert lab.supervisor.names() == [], "no service starts on a config that cannot work"


@pytest.mark.parametrize("errors, why", [
    ("scalar(vector(1))", "returned a scalar or a string"),
    ("scalar(1)", "HTTP 400: "),
    ('"text"', "returned a scalar or a string"),
    ("sum(up)[1m:]", "returned a range of samples"),
    ("vector(-1000000)", "a count of requests is never negative"),
])
def test_the_error_budget_gate_fails_closed_on_any_odd_answer_of_a_real_prometheus(lab, errors, why):
    from gameday.target.errorbudget import Slo, read_budget

    slo = Slo(name="odd", objective=99.5, window="1h", errors=errors, total="vector(100)")
    reading = read_budget(lab.prometheus, slo)
    assert reading.state == "unknown" and why in reading.detail, reading
