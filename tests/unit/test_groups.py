"""The group a page will meet in Alertmanager: new, active, or lingering after an earlier incident."""

from __future__ import annotations

from assertions.alerts import PageResult, late_page_reason
from gameday.observe.clients import AlertGroup
from gameday.pipeline.groups import LINGER, GroupPage, GroupState, group_state, known_group_labels
from gameday.pipeline.routing import route_for
from gameday.pipeline.timing import PipelineTiming
from tests.unit.test_routing import lab_routes

KNOWN = {"alertname": "ServiceDown"}


def resolved_at(t: float, name: str = "ServiceDown") -> list[GroupPage]:
    return [GroupPage(t - 2, "firing", {"alertname": name}), GroupPage(t, "resolved", {"alertname": name})]


def test_group_labels_follow_the_route_group_by(root):
    route = route_for(lab_routes(root), {"alertname": "ServiceDown", "severity": "critical"})
    assert route.group_by == ("alertname",)
    assert known_group_labels("ServiceDown", {"severity": "critical"}, route.group_by) == KNOWN
    every = route_for({"route": {"receiver": "r", "group_by": ["..."]}}, {"alertname": "X"})
    assert every.group_by is None
    assert known_group_labels("X", {"team": "a"}, None) == {"alertname": "X", "team": "a"}


def test_no_history_is_a_new_group():
    state = group_state("ServiceDown", "pager", KNOWN, [], 0, [], now=5.0)
    assert state.state == "new" and not state.joins_group


def test_an_active_group_is_joined():
    groups = [AlertGroup({"alertname": "ServiceDown"}, "pager", ["ServiceDown"])]
    state = group_state("ServiceDown", "pager", KNOWN, groups, 1, [], now=5.0)
    assert state.state == "active" and state.joins_group
    other = [AlertGroup({"alertname": "HighErrorRate"}, "pager", ["HighErrorRate"])]
    assert group_state("ServiceDown", "pager", KNOWN, other, 1, [], now=5.0).state == "new"


def test_a_recent_resolution_lingers_even_when_no_group_is_held_right_now():
    # a count of zero between maintenance ticks says nothing about Prometheus's next resend
    state = group_state("ServiceDown", "pager", KNOWN, [], 0, resolved_at(100.0), now=110.0)
    assert state.state == "lingering" and state.last_resolved == 100.0
    assert state.clear_by == 100.0 + LINGER and "15 min" in state.detail


def test_the_group_is_new_again_once_resends_and_maintenance_are_past():
    state = group_state("ServiceDown", "pager", KNOWN, [], 1, resolved_at(100.0), now=100.0 + LINGER + 0.1)
    assert state.state == "new"


def test_another_alerts_history_does_not_count():
    state = group_state("ServiceDown", "pager", KNOWN, [], 1, resolved_at(100.0, "HighErrorRate"), now=101.0)
    assert state.state == "new"


def test_a_firing_page_without_its_resolution_lingers():
    pages = [GroupPage(50.0, "firing", {"alertname": "ServiceDown"})]
    assert group_state("ServiceDown", "pager", KNOWN, [], 1, pages, now=60.0).state == "lingering"


TIMING = PipelineTiming(scrape_interval=5 / 60, evaluation_interval=5 / 60, for_=0.5, group_wait=5 / 60,
                        group_interval=0.5)


def late_page(fired: float, notified: float) -> PageResult:
    return PageResult("ServiceDown", "pager", starts_at=fired, notified=notified, firing_seen=fired)


def test_a_late_page_that_joined_a_lingering_group_says_so_with_its_times():
    group = GroupState("ServiceDown", "pager", "lingering", "resolved 2s ago", last_resolved=8.0)
    why = late_page_reason(late_page(10.6, 11.1), 10.0, TIMING.with_group(True), group)
    assert "fired 600ms after the fault" in why and "followed 500ms later" in why
    assert "longer than group_wait 83ms" in why
    assert "joined the group of the previous ServiceDown incident" in why and "2.0s before the fault" in why
    assert "group_interval tick (every 500ms)" in why


def test_a_late_page_without_a_lingering_group_does_not_blame_one():
    group = GroupState("ServiceDown", "pager", "new", "no page of this group")
    why = late_page_reason(late_page(10.6, 11.1), 10.0, TIMING, group)
    assert "though Alertmanager held no group for it" in why and "joined" not in why


def test_a_page_on_time_after_firing_blames_nothing_in_alertmanager():
    why = late_page_reason(late_page(10.9, 10.95), 10.0, TIMING, None)
    assert why.startswith("it fired 900ms after the fault") and "group_wait" not in why
    assert "longer than the pipeline's ceiling" in why


def test_a_late_page_after_failed_deliveries_says_alertmanager_retried():
    group = GroupState("ServiceDown", "pager", "new", "no page of this group")
    why = late_page_reason(late_page(10.6, 11.1), 10.0, TIMING, group, failed_deliveries=1)
    assert "Alertmanager counted 1 failed notification attempt(s) since the fault" in why
    assert "failed notification" not in late_page_reason(late_page(10.6, 11.1), 10.0, TIMING, group, 0)
