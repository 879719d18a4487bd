"""Every scenario in scenarios/ as a drill on the target (the embedded lab by default).

``pytest gamedays/ -m p0`` runs the P0 drills; ``-k service-outage`` picks one.
"""

from __future__ import annotations


def test_drill(scenario, run_drill):
    record = run_drill(scenario)
    assert record.verdict == "PASS"
