"""Clock skew on a stack gameday does not own: read from Prometheus's time() and a Date header, bounded, and the
correction of a page's startsAt by it."""

from __future__ import annotations

import time
from email.utils import formatdate

from assertions.alerts import Watch, wait_for_page
from gameday.core.clock import Clock
from gameday.observe.receiver import Deliveries, Notification
from gameday.observe.skew import date_skew, prometheus_skew
from gameday.team.target import skew_problem


class AheadPrometheus:
    base_url = "http://prometheus"

    def __init__(self, ahead: float) -> None:
        self.ahead = ahead

    def query(self, expr: str) -> list:
        assert expr == "time()"
        return [[time.time() + self.ahead, str(time.time() + self.ahead)]]

    def alerts(self) -> list:
        return []


class DatedApi:
    name, base_url, timeout = "Alertmanager", "http://am", 1.0

    def __init__(self, ahead: float) -> None:
        ahead_by = ahead

        class Answer:
            headers = {"Date": formatdate(time.time() + ahead_by, usegmt=True)}

        class Http:
            def get(self, *a: object, **k: object) -> Answer:
                return Answer()

        self._http = Http()


def test_the_skew_is_read_to_the_millisecond_from_prometheus_and_to_the_second_from_a_date_header():
    assert abs(prometheus_skew(AheadPrometheus(30.0)) - 30.0) < 0.05
    assert abs(prometheus_skew(AheadPrometheus(-4.25)) + 4.25) < 0.05
    assert abs(date_skew(DatedApi(10.0)) - 10.0) <= 1.0


def test_a_skew_past_the_bound_is_one_line_naming_the_setting():
    assert skew_problem({"prometheus": 1.9}, 2.0, "shop", "targets/shop.yaml") is None
    why = skew_problem({"prometheus": -3.25, "alertmanager": 0.0}, 2.0, "shop", "targets/shop.yaml")
    assert why is not None and "-3.250s off this machine's, past the bound of 2s (safety.max_clock_skew in " \
                               "targets/shop.yaml)" in why and "\n" not in why


def test_a_pages_startsat_on_a_skewed_prometheus_is_read_on_the_harness_clock():
    clock = Clock()
    starts = time.time() - 1.0  # the alert started a second ago, by this machine's clock
    written = starts + 30.0  # the team's Prometheus, 30 s ahead, wrote this
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(written)) + f".{int(written % 1 * 1000):03d}Z"
    deliveries = Deliveries()
    deliveries._record(Notification("oncall", time.monotonic(), time.time(), {"status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "ShopDown"}, "startsAt": stamp, "fingerprint": "f"}]}))
    for skew, expected in ((30.0, clock.from_wall(starts)), (0.0, clock.from_wall(written))):
        watch = Watch(AheadPrometheus(skew), deliveries, clock, None, skew)
        result = wait_for_page(watch, "ShopDown", "oncall", clock.now() - 5, 1.0)
        assert result.starts_at is not None and abs(result.starts_at - expected) < 0.01, (skew, result.starts_at)
