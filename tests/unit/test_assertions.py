"""The page, quiet and MTTR assertions against a real webhook receiver and a scripted Prometheus."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
import requests

from assertions import Watch, assert_mttr, assert_page, assert_quiet, wait_for_page, wait_for_resolution
from gameday.core.clock import Clock
from gameday.core.errors import DrillFailed
from gameday.observe.clients import ActiveAlert
from gameday.observe.receiver import WebhookReceiver, bearer


@dataclass
class ScriptedPrometheus:
    """Answers ``alerts()`` with whatever state the test sets; the only stand-in in these tests."""

    states: dict[str, str] = field(default_factory=dict)

    def alerts(self):
        return [ActiveAlert(n, s, {"alertname": n}, None) for n, s in self.states.items() if s != "inactive"]


@pytest.fixture
def receiver():
    r = WebhookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def watch(receiver):
    return Watch(ScriptedPrometheus(), receiver, Clock())


def page(receiver, to, name, status="firing", fingerprint="f1", starts="2026-11-26T17:00:00Z"):
    body = {"version": "4", "status": status, "receiver": to,
            "alerts": [{"status": status, "labels": {"alertname": name}, "annotations": {},
                        "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint}]}
    assert requests.post(f"{receiver.url}/{to}", json=body, timeout=2, headers=bearer(receiver.secret)
                         ).status_code == 200


def test_page_at_the_right_receiver_passes_and_stamps_arrival(watch, receiver):
    watch.prometheus.states["A"] = "firing"
    page(receiver, "pager", "A")
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=1)
    assert result.notified is not None and result.firing_seen is not None and result.fingerprint == "f1"
    assert 0 <= result.notified_seen - result.notified < 0.5
    assert assert_page(result, since=0.0, sla=10) == pytest.approx(result.notified)


def test_wait_wakes_on_delivery_not_on_the_next_poll(watch, receiver):
    watch.prometheus.states["A"] = "firing"
    t0 = time.monotonic()

    def later():
        time.sleep(0.3)
        page(receiver, "pager", "A")

    import threading

    threading.Thread(target=later).start()
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=3, poll=2.0)
    assert result.notified is not None
    assert time.monotonic() - t0 < 1.5, "a 2s poll must not delay noticing a page that arrived"


def test_never_fired_says_so(watch):
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=0.2)
    with pytest.raises(DrillFailed, match="A never fired within .* threshold"):
        assert_page(result, 0.0, sla=0.1)


def test_pending_that_never_fires_says_so(watch):
    watch.prometheus.states["A"] = "pending"
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=0.2)
    with pytest.raises(DrillFailed, match="went pending but never held"):
        assert_page(result, 0.0, sla=0.1)


def test_fired_without_a_page(watch):
    watch.prometheus.states["A"] = "firing"
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=0.2)
    with pytest.raises(DrillFailed, match="fired .* but no page reached pager"):
        assert_page(result, 0.0, sla=0.1)


def test_wrong_receiver(watch, receiver):
    watch.prometheus.states["A"] = "firing"
    page(receiver, "chat", "A")
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=0.2)
    with pytest.raises(DrillFailed, match="A paged chat instead of pager"):
        assert_page(result, 0.0, sla=1)


def test_late_page_fails_the_sla(watch, receiver):
    page(receiver, "pager", "A")
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=1)
    since = result.notified - 2.0  # as if the fault went in two seconds before the page
    with pytest.raises(DrillFailed, match=r"after 2.0s, beyond its SLA of 1.0s"):
        assert_page(result, since, sla=1.0)


def test_pages_before_the_fault_do_not_count(watch, receiver):
    page(receiver, "pager", "A")
    time.sleep(0.05)
    result = wait_for_page(watch, "A", "pager", since=watch.clock.now(), timeout=0.2)
    assert result.notified is None


def test_quiet_alert_that_paged_fails(watch, receiver):
    assert_quiet(watch, ["B"], 0.0)
    page(receiver, "pager", "B")
    with pytest.raises(DrillFailed, match=r"must stay quiet fired: B \(paged pager\)"):
        assert_quiet(watch, ["B"], 0.0)


def test_quiet_alert_firing_in_prometheus_fails(watch):
    watch.prometheus.states["B"] = "firing"
    with pytest.raises(DrillFailed, match=r"B \(firing in Prometheus\)"):
        assert_quiet(watch, ["B"], 0.0)


def test_resolution_needs_the_resolved_page_and_a_healthy_service(watch, receiver):
    healthy = {"ok": False}
    page(receiver, "pager", "A", status="resolved")
    res = wait_for_resolution(watch, "A", "pager", "f1", 0.0, 0.2, lambda: healthy["ok"])
    assert res.resolved_page is not None and res.resolved is None
    with pytest.raises(DrillFailed, match="service never became healthy"):
        assert_mttr("A", res, notified=0.0, goal=10)
    healthy["ok"] = True
    res = wait_for_resolution(watch, "A", "pager", "f1", 0.0, 1, lambda: healthy["ok"])
    assert assert_mttr("A", res, notified=0.0, goal=10) == pytest.approx(res.resolved)


def test_resolution_of_another_alert_instance_does_not_count(watch, receiver):
    page(receiver, "pager", "A", status="resolved", fingerprint="other")
    res = wait_for_resolution(watch, "A", "pager", "f1", 0.0, 0.2, lambda: True)
    with pytest.raises(DrillFailed, match="no resolved page arrived"):
        assert_mttr("A", res, notified=0.0, goal=10)


def test_mttr_beyond_goal(watch, receiver):
    page(receiver, "pager", "A", status="resolved")
    res = wait_for_resolution(watch, "A", "pager", "f1", 0.0, 1, lambda: True)
    with pytest.raises(DrillFailed, match="beyond its MTTR goal"):
        assert_mttr("A", res, notified=res.resolved - 20, goal=10)


def test_a_page_without_the_run_secret_is_refused_recorded_and_never_counted(watch, receiver):
    """Anyone on the machine (or on a compose bridge) can reach the receiver: without the secret, a POST is 401,
    kept as a refusal with what it claimed, and is no page."""
    watch.prometheus.states["A"] = "firing"
    body = {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "A"},
                                            "startsAt": "2026-11-26T17:00:00Z", "fingerprint": "f1"}]}
    assert requests.post(f"{receiver.url}/pager", json=body, timeout=2).status_code == 401
    wrong = requests.post(f"{receiver.url}/pager", json=body, timeout=2, headers=bearer("guess"))
    assert wrong.status_code == 401
    assert receiver.received() == []
    assert [(r.receiver, r.why, r.alerts) for r in receiver.rejections()] == \
        [("pager", "no secret", ("A",)), ("pager", "a wrong secret", ("A",))]
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=0.3)
    with pytest.raises(DrillFailed, match="fired .* but no page reached pager"):
        assert_page(result, 0.0, sla=10)


def test_reading_the_pages_back_takes_the_secret(receiver):
    page(receiver, "pager", "A")
    assert requests.get(receiver.url, timeout=2).status_code == 401
    answer = requests.get(receiver.url, timeout=2, headers=bearer(receiver.secret))
    assert answer.status_code == 200 and len(answer.json()["notifications"]) == 1


def test_an_oversized_body_is_refused_before_it_is_read(receiver):
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(receiver.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(f"POST /pager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {receiver.secret}\r\n"
                     f"Content-Length: {64 * 2 ** 20}\r\n\r\nxxxx".encode())
        answer = conn.recv(200)
    assert answer.startswith(b"HTTP/1.0 413") and receiver.rejections()[0].why == f"body of {64 * 2 ** 20} bytes"
