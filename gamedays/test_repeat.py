"""A hand-written drill: the gateway dies twice, and each outage pages the on-call again.

After the first outage resolves, Prometheus resends the resolved alert for 15 minutes and each
resend re-creates its group in Alertmanager, which drops an empty group only on a 30-second tick;
a second page that joined such a group would wait for the group's group_interval. By default the
harness gives each drill a clean slate (on the lab it restarts Prometheus and Alertmanager), so the
second outage is judged as a first incident would be, against the same SLA and MTTR goal.
"""

from __future__ import annotations

import pytest

from gameday.scenario.loading import load_scenario


@pytest.mark.p1
def test_second_outage_pages_again(pytestconfig, run_drill):
    root = pytestconfig.rootpath
    scenario = load_scenario(root / "scenarios" / "service-outage.yaml", root)
    first = run_drill(scenario)
    second = run_drill(scenario)
    assert first.verdict == second.verdict == "PASS"
    assert second.marks["t_notified"] > 0, "the second outage must have its own page"
    at_fault = second.alert_groups["ServiceDown"]["at the fault"]
    assert at_fault["state"] == "new", at_fault
    assert second.alert_groups["ServiceDown"]["preflight"]["state"] == "lingering"
    assert "t_alerting_reset" in second.marks
    assert second.floors["notify_ceiling:ServiceDown"] == first.floors["notify_ceiling:ServiceDown"]
