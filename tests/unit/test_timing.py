from __future__ import annotations

import pytest

from assertions.sla import assert_feasible, assert_within_sla
from gameday.core.clock import Clock, parse_rfc3339
from gameday.core.errors import DrillFailed
from gameday.pipeline.timing import PipelineTiming, Timings
from tests.conftest import ManualClock


def test_timings_from_marks():
    t = Timings.from_marks({"t_inject": 10.0, "t_firing": 40.0, "t_notified": 50.5, "t_mitigated": 85.0,
                            "t_resolved": 110.5})
    assert (t.ttd, t.ttn, t.mttr, t.inject_to_resolved, t.time_to_mitigate) == (30.0, 40.5, 60.0, 100.5, 75.0)


def test_timings_missing_marks_are_none():
    t = Timings.from_marks({"t_inject": 1.0})
    assert t.ttd is None and t.ttn is None and t.mttr is None


def test_floor_and_ceiling_of_the_lab_service_down_rule():
    # scrape 5s, evaluation 5s, for 30s, the pager's group_wait 5s: the figures in config/
    p = PipelineTiming(scrape_interval=5, evaluation_interval=5, for_=30, group_wait=5, group_interval=30)
    assert p.firing_floor == 30 and p.notify_floor == 35
    assert p.firing_ceiling == 40 and p.notify_ceiling == 45


def test_for_rounds_up_to_whole_evaluations():
    p = PipelineTiming(scrape_interval=1, evaluation_interval=4, for_=10, group_wait=0, group_interval=1)
    assert p.firing_floor == 12


def test_sla_below_floor_is_flagged_before_the_drill():
    p = PipelineTiming(scrape_interval=5, evaluation_interval=5, for_=30, group_wait=10, group_interval=30)
    with pytest.raises(DrillFailed, match="below the pipeline's floor of 40.0s.*can never pass"):
        assert_feasible("ServiceDown", 20, p)
    assert_feasible("ServiceDown", 60, p)


def test_sla_check():
    assert_within_sla("A", 59.9, 60)
    with pytest.raises(DrillFailed, match="beyond its SLA of 1m00s"):
        assert_within_sla("A", 61, 60)


def test_clock_maps_wall_stamps_onto_the_monotonic_clock():
    mono, wall = ManualClock(500.0), ManualClock(1_700_000_000.0)
    clock = Clock(mono=mono, wall=wall)
    mono.advance(2.5)
    wall.advance(100)  # wall time may jump; the drill clock does not follow it
    assert clock.now() == 2.5
    assert clock.from_wall(1_700_000_003.25) == pytest.approx(3.25)
    assert clock.from_mono(503.0) == 3.0


def test_rfc3339_with_nanoseconds():
    assert parse_rfc3339("2026-11-26T17:55:47.123456789Z") == pytest.approx(1795715747.123456, abs=1e-6)
    assert parse_rfc3339("2026-11-26T17:55:47Z") == 1795715747.0


def test_a_page_that_joins_a_lingering_group_waits_for_its_group_interval():
    new = PipelineTiming(scrape_interval=5, evaluation_interval=5, for_=30, group_wait=5, group_interval=30)
    joined = new.with_group(True)
    # the group's next tick may come at once, or a whole group_interval after the alert fired
    assert joined.notify_floor == new.firing_floor == 30
    assert joined.notify_ceiling == new.firing_ceiling + 30 == 70
    assert "group_interval 30s" in joined.explain() and "group_wait" not in joined.explain()


def test_a_repeat_incident_is_held_to_the_ceiling_that_includes_group_interval():
    p = PipelineTiming(scrape_interval=5, evaluation_interval=5, for_=30, group_wait=5, group_interval=30)
    assert_feasible("ServiceDown", 60, p)  # a first incident: 60s is above the 45s ceiling
    with pytest.raises(DrillFailed, match="below the ceiling of a repeat incident, 1m10s.*by chance"):
        assert_feasible("ServiceDown", 60, p, repeat=True)
    assert_feasible("ServiceDown", 90, p, repeat=True)
