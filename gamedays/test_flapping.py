"""A hand-written drill: a flapping gateway, killed again right after its last outage resolved.

This is the repeat case on purpose (``alert_group: repeat``): the second outage's alert may join
the group Alertmanager still holds from the first, and then its page goes out on that group's
next group_interval tick rather than after group_wait. The SLA is set to cover that (90s against
the lab's 75s ceiling for a repeat page), and preflight refuses a tighter one before any fault.
For 15 minutes after a resolution Prometheus resends the resolved alert, and each resend re-creates
the group, so a repeat this soon is judged against the ceiling that includes group_interval.
"""

from __future__ import annotations

import pytest

from gameday.scenario.loading import load_scenario
from gameday.scenario.model import ExpectedAlert


@pytest.mark.p1
def test_flapping_gateway_pages_within_its_repeat_ceiling(pytestconfig, run_drill):
    root = pytestconfig.rootpath
    outage = load_scenario(root / "scenarios" / "service-outage.yaml", root)
    flapping = outage.model_copy(update={
        "id": "service-flapping", "title": "Inference gateway killed again right after it recovered", "priority": "p1",
        "alert_group": "repeat", "expect": [ExpectedAlert(alert="ServiceDown", receiver="pager", within=90)]})
    first = run_drill(outage)
    second = run_drill(flapping)
    assert first.verdict == second.verdict == "PASS"
    group = second.alert_groups["ServiceDown"]["at the fault"]
    # the harness saw the first outage's resolved page and did not clear it away: the page may join its group
    assert group["state"] == "lingering" and group["joins_group"], group
    assert "t_alerting_reset" not in second.marks
    assert second.floors["notify_ceiling:ServiceDown"] > first.floors["notify_ceiling:ServiceDown"]
