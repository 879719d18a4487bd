"""A hand-written drill: the gateway dies twice, and each outage pages the on-call again.

Alertmanager forgets a group once its alerts have resolved; if it did not, a second outage
would wait for group_interval or be folded into the old page. This drill runs the
service-outage scenario twice on the same lab and holds both to the same SLA and MTTR goal.
"""

from __future__ import annotations

import pytest

from gameday.scenario import load_scenario


@pytest.mark.p1
def test_second_outage_pages_again(pytestconfig, run_drill):
    root = pytestconfig.rootpath
    scenario = load_scenario(root / "scenarios" / "service-outage.yaml", root)
    first = run_drill(scenario)
    second = run_drill(scenario)
    assert first.verdict == second.verdict == "PASS"
    assert second.marks["t_notified"] > 0, "the second outage must have its own page"
