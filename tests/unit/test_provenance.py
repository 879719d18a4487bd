"""A page counts only when the stack backs it: its twin in Alertmanager, after Prometheus showed it firing; a
resolved page only when both no longer hold the alert. The stack here is scripted; the drills against the real
lab (tests/integration/test_forged_pages.py) show the same against real Prometheus and Alertmanager."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import yaml

from assertions import Watch, assert_page, assert_quiet, wait_for_page, wait_for_resolution
from gameday.core.clock import Clock
from gameday.core.errors import ConfigError, DrillFailed
from gameday.observe.clients import ActiveAlert
from gameday.observe.provenance import PageCheck, early_page
from gameday.observe.receiver import Deliveries, Notification
from gameday.target.monitoring import sign_webhooks

STARTS = "2026-12-02T04:00:00.123456789Z"


@dataclass
class Stack:
    """A scripted Prometheus and Alertmanager: what each holds is set by the test."""

    firing_series: list[dict] = field(default_factory=list)
    firing_now: list[str] = field(default_factory=list)
    am_active: list[dict] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def query(self, expr):
        self.queries.append(expr)
        return [{"metric": m, "value": [0, "1"]} for m in self.firing_series]

    def alerts(self):
        return [ActiveAlert(n, "firing", {"alertname": n, "severity": "critical"}, None) for n in self.firing_now]

    def active_alerts(self, name):
        return [a for a in self.am_active if a["labels"]["alertname"] == name]


def alert(status="firing", fingerprint="f1", starts=STARTS, name="A"):
    return {"status": status, "labels": {"alertname": name, "severity": "critical"}, "startsAt": starts,
            "fingerprint": fingerprint}


def real_stack():
    return Stack(firing_series=[{"__name__": "ALERTS", "alertname": "A", "alertstate": "firing",
                                 "severity": "critical"}],
                 firing_now=["A"],
                 am_active=[{"labels": {"alertname": "A", "severity": "critical"}, "fingerprint": "f1",
                             "startsAt": "2026-12-02T04:00:00.123Z"}])


@pytest.fixture
def deliveries():
    return Deliveries()


def deliver(deliveries, watch, *alerts, to="pager"):
    note = Notification(to, watch.clock.anchor_mono + watch.clock.now(), 0.0,
                        {"status": alerts[0]["status"], "alerts": list(alerts)})
    deliveries._record(note)
    return note


def make_watch(stack, deliveries):
    return Watch(stack, deliveries, Clock(), PageCheck(stack, stack))


def test_a_page_that_prometheus_and_alertmanager_back_counts(deliveries):
    stack = real_stack()
    watch = make_watch(stack, deliveries)
    deliver(deliveries, watch, alert())
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=1)
    assert result.notified is not None and result.refused == []
    assert 'ALERTS{alertname="A",alertstate="firing"}' in stack.queries[0]
    assert watch.check.refused == []


@pytest.mark.parametrize("stack, why", [
    (Stack(), "Alertmanager holds no active A with fingerprint f1"),
    (Stack(am_active=[{"labels": {"alertname": "A"}, "fingerprint": "f1", "startsAt": "2026-12-02T03:59:00Z"}]),
     "started at 2026-12-02T03:59:00Z"),
    (Stack(am_active=real_stack().am_active), "Prometheus never showed A with these labels firing"),
    (Stack(am_active=real_stack().am_active,
           firing_series=[{"alertname": "A", "alertstate": "firing", "severity": "info"}]),
     "Prometheus never showed A"),
], ids=["no-twin", "other-startsAt", "never-firing", "other-labels"])
def test_a_page_the_stack_does_not_back_never_passes(deliveries, stack, why):
    """The outside tester's forgery: a page with the secret for an alert that never fired must not pass."""
    watch = make_watch(stack, deliveries)
    deliver(deliveries, watch, alert())
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=0.3)
    assert result.notified is None and why in result.refused[0]
    with pytest.raises(DrillFailed, match="refused as not backed by Prometheus and Alertmanager"):
        assert_page(result, 0.0, sla=10)
    assert [r["why"] for r in watch.check.refused] == [result.refused[0]], "recorded once, for the journal"


def test_a_refused_page_never_counts_later_when_the_real_alert_fires(deliveries):
    stack = Stack()
    watch = make_watch(stack, deliveries)
    forged = deliver(deliveries, watch, alert())
    assert wait_for_page(watch, "A", "pager", since=0.0, timeout=0.2).notified is None
    stack.firing_series, stack.am_active = real_stack().firing_series, real_stack().am_active
    real = deliver(deliveries, watch, alert())
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=1)
    assert result.notified == pytest.approx(watch.arrival(real)) and result.notified != watch.arrival(forged)


def test_a_forged_page_to_another_receiver_is_no_wrong_route(deliveries):
    stack = real_stack()
    watch = make_watch(stack, deliveries)
    deliver(deliveries, watch, alert(fingerprint="forged"), to="chat")
    deliver(deliveries, watch, alert())
    result = wait_for_page(watch, "A", "pager", since=0.0, timeout=1)
    assert result.other_receivers == set() and result.notified is not None


def test_a_forged_quiet_page_does_not_fail_the_drill(deliveries):
    watch = make_watch(Stack(), deliveries)
    deliver(deliveries, watch, alert(name="B"))
    assert_quiet(watch, ["B"], 0.0)
    assert watch.check.refused[0]["alert"] == "B"


def test_a_resolved_page_counts_only_once_both_let_go_of_the_alert(deliveries):
    stack = real_stack()
    watch = make_watch(stack, deliveries)
    deliver(deliveries, watch, alert("resolved"))  # forged: the alert is still firing everywhere
    res = wait_for_resolution(watch, "A", "pager", "f1", 0.0, 0.2, lambda: True)
    assert res.resolved_page is None
    assert "Alertmanager still holds A (f1) active" in watch.check.refused[0]["why"]
    stack.am_active = []
    deliver(deliveries, watch, alert("resolved"))  # Prometheus still shows it firing
    assert wait_for_resolution(watch, "A", "pager", "f1", 0.0, 0.2, lambda: True).resolved_page is None
    assert watch.check.refused[1]["why"] == "Prometheus still shows A firing"
    stack.firing_now = []
    real = deliver(deliveries, watch, alert("resolved"))
    res = wait_for_resolution(watch, "A", "pager", "f1", 0.0, 1, lambda: True)
    assert res.resolved_page == pytest.approx(watch.arrival(real)), "the forged ones never count, even now"


def test_a_page_earlier_than_the_pipeline_floor_is_called_out():
    assert early_page(0.119, floor=0.5, evaluation=0.0167) is not None
    assert early_page(0.495, floor=0.5, evaluation=0.0167) is None
    assert "before the pipeline's floor of 0.500s" in early_page(0.1, 0.5, 0.0167)


def test_the_rendered_webhooks_carry_the_secret_and_other_credentials_are_refused():
    am = yaml.safe_load("""
receivers:
  - name: pager
    webhook_configs: [{url: "http://127.0.0.1:1/pager"}]
  - name: team
    webhook_configs: [{url: "https://pager.example/hook"}]
""")
    assert sign_webhooks(am, "http://127.0.0.1:1", "s3cret", "am.yml") == 1
    assert am["receivers"][0]["webhook_configs"][0]["http_config"] == \
        {"authorization": {"type": "Bearer", "credentials": "s3cret"}}
    assert "http_config" not in am["receivers"][1]["webhook_configs"][0], "a team's own receiver is left alone"
    own = {"receivers": [{"name": "p", "webhook_configs": [
        {"url": "http://127.0.0.1:1/p", "http_config": {"basic_auth": {"username": "u"}}}]}]}
    with pytest.raises(ConfigError, match="sets credentials of its own"):
        sign_webhooks(own, "http://127.0.0.1:1", "s3cret", "am.yml")


def test_a_quiet_alert_that_paged_and_resolved_is_judged_when_it_came_not_when_the_drill_looks(deliveries):
    """A page vetted only at the end would find no twin once its alert resolved, and a quiet alert that fired
    would pass unseen: the drill vets each page as it waits."""
    stack = Stack(firing_series=[{"alertname": "B", "alertstate": "firing", "severity": "critical"}],
                  am_active=[{"labels": {"alertname": "B"}, "fingerprint": "f1",
                              "startsAt": "2026-12-02T04:00:00.123Z"}])
    watch = make_watch(stack, deliveries)
    deliver(deliveries, watch, alert(name="B"))
    watch.vet(0.0)  # as the drill's progress does while it waits
    stack.am_active, stack.firing_series = [], []  # B resolved since
    with pytest.raises(DrillFailed, match=r"must stay quiet fired: B \(paged pager\)"):
        assert_quiet(watch, ["B"], 0.0)

