"""The routed view: Alertmanager's active alerts at their receivers, read as the notifications a receiver would
have had; silenced, inhibited and suppressed alerts never count."""

from __future__ import annotations

from gameday.observe.routed import AttemptedView, RoutedView, integrations_of


class FakeAlertmanager:
    def __init__(self) -> None:
        self.alerts: list[dict] = []
        self.asked: list[dict] = []
        self.counters: dict[tuple[str, str], tuple[float, float]] = {("", "webhook"): (3.0, 0.0),
                                                                    ("", "email"): (0.0, 0.0)}

    def config(self) -> dict:
        return {"receivers": [{"name": "oncall", "webhook_configs": [{"url": "x"}]},
                              {"name": "mail", "email_configs": [{"to": "y"}]}, {"name": "blackhole"}]}

    def notification_counters(self) -> dict:
        return dict(self.counters)

    def _get(self, path: str, **params: str) -> list[dict]:
        assert path == "/api/v2/alerts"
        self.asked.append(params)
        return self.alerts


def alert(fp: str, state: str = "active", receivers: tuple[str, ...] = ("oncall",)) -> dict:
    return {"fingerprint": fp, "startsAt": "2026-12-02T10:00:00.000Z", "labels": {"alertname": "ShopDown"},
            "status": {"state": state}, "receivers": [{"name": r} for r in receivers]}


def test_an_alert_held_at_its_receivers_fires_once_and_resolves_when_it_is_gone():
    am = FakeAlertmanager()
    view = RoutedView(am)
    view.look()
    assert view.received() == []
    am.alerts = [alert("a1", receivers=("oncall", "audit"))]
    view.look()
    view.look()  # held still: no second page
    firing = view.received()
    assert sorted(n.receiver for n in firing) == ["audit", "oncall"]
    assert all(n.status == "firing" and n.alerts_named("ShopDown", "firing") for n in firing)
    assert firing[0].alerts[0]["fingerprint"] == "a1" and firing[0].alerts[0]["startsAt"].startswith("2026-12-02")
    am.alerts = []
    view.look()
    resolved = view.received()[2:]
    assert sorted(n.receiver for n in resolved) == ["audit", "oncall"]
    assert all(n.status == "resolved" and n.alerts[0]["endsAt"] != "0001-01-01T00:00:00Z" for n in resolved)
    assert am.asked[0] == {"active": "true", "silenced": "false", "inhibited": "false"}


def test_an_alert_not_active_never_reads_as_routed():
    am = FakeAlertmanager()
    am.alerts = [alert("s1", state="suppressed"), alert("u1", state="unprocessed"), {"not": "an alert"}, "junk"]
    view = RoutedView(am)
    view.look()
    assert view.received() == []


def test_attempted_waits_for_the_receivers_counters_to_move_and_a_failure_never_counts():
    assert integrations_of(FakeAlertmanager().config()) == {"oncall": {"webhook"}, "mail": {"email"},
                                                            "blackhole": set()}
    am = FakeAlertmanager()
    view = AttemptedView(am).prepare()
    assert not view.per_receiver, "Debian's Alertmanager 0.25 has no receiver_name label"
    am.alerts = [alert("a1"), alert("m1", receivers=("mail",)), alert("b1", receivers=("blackhole",))]
    view.look()
    assert view.received() == [], "routed, but no notification attempted yet"
    am.counters[("", "webhook")] = (4.0, 0.0)
    am.counters[("", "email")] = (0.0, 1.0)  # the mail receiver's attempt failed
    view.look()
    assert [(n.receiver, n.status) for n in view.received()] == [("oncall", "firing")]
    assert view.failed == {("m1", "mail"): "email notification(s) failed at mail"}
    am.counters[("", "email")] = (1.0, 1.0)
    view.look()
    assert [n.receiver for n in view.received()] == ["oncall"], "a failed attempt is never taken back as a page"
    am.alerts = []
    view.look()
    assert [(n.receiver, n.status) for n in view.received()] == [("oncall", "firing"), ("oncall", "resolved")]


def test_attempted_reads_a_receivers_own_counters_where_alertmanager_labels_them():
    am = FakeAlertmanager()
    am.counters = {("oncall", "webhook"): (1.0, 0.0), ("other", "webhook"): (5.0, 0.0)}
    view = AttemptedView(am).prepare()
    assert view.per_receiver
    am.alerts = [alert("a1")]
    view.look()
    am.counters[("other", "webhook")] = (9.0, 0.0)  # another receiver's notifications prove nothing here
    view.look()
    assert view.received() == []
    am.counters[("oncall", "webhook")] = (2.0, 0.0)
    view.look()
    assert [n.receiver for n in view.received()] == ["oncall"]


def test_the_counters_are_read_per_receiver_and_integration_from_alertmanagers_exposition():
    from gameday.observe.clients import Alertmanager

    text = """# HELP alertmanager_notifications_total The total number of attempted notifications.
# TYPE alertmanager_notifications_total counter
alertmanager_notifications_total{integration="webhook"} 3
alertmanager_notifications_total{integration="email",receiver_name="mail"} 2
# HELP alertmanager_notifications_failed_total The total number of failed notifications.
# TYPE alertmanager_notifications_failed_total counter
alertmanager_notifications_failed_total{integration="webhook",reason="other"} 1
alertmanager_notifications_failed_total{integration="webhook",reason="clientError"} 1
alertmanager_notification_latency_seconds_bucket{integration="webhook",le="1"} 7
"""

    class Answer:
        def __init__(self) -> None:
            self.text = text

        def raise_for_status(self) -> None:
            pass

    am = Alertmanager("http://127.0.0.1:9")
    am._http.get = lambda *a, **k: Answer()
    assert am.notification_counters() == {("", "webhook"): (3.0, 2.0), ("mail", "email"): (2.0, 0.0)}
