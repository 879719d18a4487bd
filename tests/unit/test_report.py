from __future__ import annotations

import json

import pytest

from gameday.core.clock import Clock
from gameday.record.events import DrillEvents
from gameday.record.journal import DrillRecord
from gameday.report.console import ConsoleReporter, render_summary
from tests.conftest import ManualClock


def record(verdict="PASS", scale=60.0, reasons=()):
    rec = DrillRecord("service-outage", "Gateway killed", "p0", "runbooks/003-service-down.md", scale,
                      Clock(mono=ManualClock(), wall=ManualClock(1_795_000_000.0)))
    rec.goals = {"sla:ServiceDown": 1.0, "mttr": 10.0}
    rec.verdict, rec.reasons = verdict, list(reasons)
    return rec


def test_journal_is_a_subscriber_and_computes_timings(tmp_path):
    rec = record()
    events = DrillEvents()
    events.subscribe(rec)
    events.phase_started.fire(phase="detect", t=0.5)
    events.marked.fire(name="t_inject", t=0.5, detail="kill")
    events.marked.fire(name="t_firing", t=1.1, detail="")
    events.marked.fire(name="t_notified", t=1.3, detail="")
    events.marked.fire(name="t_resolved", t=2.8, detail="")
    events.phase_ended.fire(phase="detect", t=1.3, error=None)
    data = json.loads(rec.write(tmp_path).read_text())
    assert data["timings"]["ttn"] == 0.8 and data["timings_real"]["ttn"] == 48.0
    phase = data["phases"][0]
    assert {k: phase[k] for k in ("phase", "start", "end", "error")} == {"phase": "detect", "start": 0.5, "end": 1.3,
                                                                         "error": None}
    assert phase["cpu"] >= 0 and 0 <= phase["cpu_share"] < 1, "the harness's own CPU in the phase is recorded"
    assert list(data["marks"]) == ["t_inject", "t_firing", "t_notified", "t_resolved"]
    assert data["marks"]["t_inject"]["wall"].startswith("2026-11-18T")


def test_summary_shows_goals_real_time_and_reasons():
    passed = record()
    passed.marks = {"t_inject": 0.5, "t_firing": 1.1, "t_notified": 1.3, "t_resolved": 2.8}
    failed = record("FAIL", reasons=["ServiceDown never fired within 2.0s of the fault"])
    text = render_summary([passed, failed], 80)
    assert "time scale 60" in text
    row = next(line for line in text.splitlines() if "PASS" in line)
    assert "800ms" in row and "1.0s" in row and "1.5s" in row and "48.0s/1m00s" in row
    assert "service-outage FAIL: ServiceDown never fired within 2.0s of the fault" in text


def test_console_prints_phases_marks_and_verdict():
    lines: list[str] = []
    console = ConsoleReporter(lambda text, **_: lines.append(text), live=False, heartbeat=0)
    console.on_phase_started(phase="inject", t=30.0)
    console.on_marked(name="t_inject", t=30.0, detail="kill-service inference-gateway")
    console.on_marked(name="t_notified", t=72.5, detail="ServiceDown at pager")
    console.on_progress(phase="resolve", t=80.0, elapsed=7.5, deadline=600.0, note="waiting")
    console.on_finished(record=record("FAIL", scale=1, reasons=["late"]))
    text = "".join(lines)
    assert "▸ inject" in text and "page arrived +42.5s: ServiceDown at pager" in text
    assert "resolve 7.5s / 10m00s" in text and "verdict FAIL: late" in text


def test_each_expected_alert_has_its_own_marks_timings_and_row(tmp_path):
    """Two pages: the first alert's SLA is never set against the second alert's times."""
    rec = record()
    rec.goals = {"sla:SLOAvailabilityFastBurn": 2.0, "sla:SLOAvailabilityBudgetTicket": 1.0, "mttr": 10.0}
    rec.receivers = {"SLOAvailabilityFastBurn": "pager", "SLOAvailabilityBudgetTicket": "ticket"}
    events = DrillEvents()
    events.subscribe(rec)
    events.marked.fire(name="t_inject", t=1.0, detail="fault")
    events.marked.fire(name="t_firing", t=2.0, detail="", alert="SLOAvailabilityFastBurn")
    events.marked.fire(name="t_notified", t=2.5, detail="", alert="SLOAvailabilityFastBurn")
    events.marked.fire(name="t_firing", t=4.0, detail="", alert="SLOAvailabilityBudgetTicket")
    events.marked.fire(name="t_notified", t=4.4, detail="", alert="SLOAvailabilityBudgetTicket")
    events.marked.fire(name="t_resolved", t=6.5, detail="", alert="SLOAvailabilityFastBurn")
    data = json.loads(rec.write(tmp_path).read_text())
    assert data["timings"]["ttn"] == 1.5, "the drill's timings are the first expected alert's"
    fast, ticket = data["alerts"]["SLOAvailabilityFastBurn"], data["alerts"]["SLOAvailabilityBudgetTicket"]
    assert fast["timings"]["ttn"] == 1.5 and fast["sla_met"] is True and fast["timings"]["mttr"] == 4.0
    assert fast["receiver"] == "pager" and ticket["receiver"] == "ticket"
    assert ticket["timings"]["ttn"] == pytest.approx(3.4) and ticket["sla_met"] is False
    assert ticket["timings"]["mttr"] is None, "no resolved mark of its own: none borrowed from the other alert"
    text = render_summary([rec], 80)
    rows = [line for line in text.splitlines() if "SLOAvailability" in line]
    assert len(rows) == 2
    assert "1.5s" in rows[0] and "2.0s" in rows[0] and " yes " in rows[0] and "service-outage" in rows[0]
    assert "3.4s" in rows[1] and "1.0s" in rows[1] and " NO " in rows[1] and "service-outage" not in rows[1]
