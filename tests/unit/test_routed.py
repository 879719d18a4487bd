"""The routed view: Alertmanager's active alerts at their receivers, read as the notifications a receiver would
have had; silenced, inhibited and suppressed alerts never count."""

from __future__ import annotations

from gameday.observe.routed import RoutedView


class FakeAlertmanager:
    def __init__(self) -> None:
        self.alerts: list[dict] = []
        self.asked: list[dict] = []

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
