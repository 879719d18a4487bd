"""Young windows: when the fault waits for a quiet alert's window, and when a page is said to be early."""

from __future__ import annotations

import pytest

from gameday.pipeline.detection import Condition, Intensity, Window
from gameday.pipeline.youngwindows import quiet_wait, young_page

HOUR_AT_60 = Condition("ratio", 60.0, 0.072, job="gateway")  # a 1h burn window at time scale 60
SIX_HOURS_AT_60 = Condition("ratio", 360.0, 0.03, job="gateway")


def test_a_quiet_alerts_young_window_is_waited_for_up_to_the_longest_sla():
    quiet = {HOUR_AT_60: "SLOAvailabilityFastBurn"}
    wait = quiet_wait(quiet, {HOUR_AT_60: Window(12.0)}, 0.25, longest_sla=120.0)
    assert wait.seconds == pytest.approx(48.0) and wait.alert == "SLOAvailabilityFastBurn"
    assert wait.note is not None and "holds 12.0s of its 1m00s window: waiting 48.0s" in wait.note
    assert quiet_wait(quiet, {HOUR_AT_60: Window(59.8)}, 0.25, 120.0).seconds == 0.0, "full but a scrape or two"
    past = quiet_wait(quiet, {HOUR_AT_60: Window(12.0)}, 0.25, longest_sla=30.0)
    assert past.seconds == 0.0 and past.note is not None and "noise in it may fire that alert" in past.note
    assert quiet_wait({}, {}, 0.25, 30.0) == quiet_wait(quiet, {HOUR_AT_60: Window(60.0)}, 0.25, 30.0)


def test_an_early_page_on_young_windows_says_what_a_full_window_would_take():
    outage = Intensity(error_share=1.0)
    young = young_page("SLOAvailabilitySlowBurn", [SIX_HOURS_AT_60], {SIX_HOURS_AT_60: Window(30.0)}, outage,
                       expected=2.0, notify_floor=1.0)
    assert young is not None
    warm, note = young
    assert warm == pytest.approx(0.03 * 360.0 + 1.0)
    assert "its 6m00s window held 30.0s of history" in note and "proves the rule and the route" in note
    full = {SIX_HOURS_AT_60: Window(360.0)}
    assert young_page("SLOAvailabilitySlowBurn", [SIX_HOURS_AT_60], full, outage, expected=11.8,
                      notify_floor=1.0) is None, "a page at the time full windows give is not early"
    assert young_page("X", [SIX_HOURS_AT_60], full, Intensity(error_share=0.01), 2.0, 1.0) is None, \
        "a fault too weak to fire it has no time to compare against"
