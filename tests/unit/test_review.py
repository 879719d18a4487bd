"""The run's review, from journals alone: what a reviewer sees, and no broken link or image."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from gameday.report.plots import render
from gameday.report.review import action_items, load_run, slo_impact, slo_of, write_review
from tests.unit.test_report_files import journal


def write(reports: Path, name: str, j: dict) -> None:
    (reports / "drills").mkdir(parents=True, exist_ok=True)
    (reports / "drills" / f"{name}.json").write_text(json.dumps(j))


def drill(reports: Path, sid: str, run: str, started: str, verdict="PASS", reasons=(), plot=True) -> dict:
    j = journal(scenario=sid, run=run, started=started, verdict=verdict, reasons=list(reasons),
                runbook="runbooks/001-high-error-rate.md", fault={"description": "stop-service model-backend"},
                events=[{"t": 4.0, "event": "mark", "name": "t_inject", "detail": "stop-service <b>"},
                        {"t": 4.1, "event": "mark", "name": "t_firing_seen", "detail": "seen"},
                        {"t": 7.3, "event": "mark", "name": "t_notified", "detail": "page", "alert": "HighErrorRate"}])
    j["alerts"] = {"HighErrorRate": {"receiver": "pager", "sla": 5.0, "sla_met": verdict == "PASS",
                                     "timings": {"ttd": 3.0, "ttn": 3.3, "mttr": 7.7}}}
    j["load"] |= {"requests": 1000, "failures": 100}
    if plot:
        j["plot"] = str(render(j, reports / "drills" / f"{sid}-{started}.png"))
    write(reports, f"{sid}-{started}", j)
    return j


class Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("href", "src") and v and not v.startswith("#")]


def test_the_newest_run_is_reviewed_with_plots_times_impact_timeline_and_actions(tmp_path, root):
    reports = tmp_path / "reports"
    drill(reports, "high-error-rate", "old-run", "2026-11-01T10:00:00")
    drill(reports, "high-error-rate", "new-run", "2026-11-02T10:00:00")
    drill(reports, "service-outage", "new-run", "2026-11-02T10:01:00", verdict="FAIL",
          reasons=["ServiceDown never fired within 2s of the fault"])
    write(reports, "ancient", {"scenario": "x"})  # schema 1
    md, html = write_review(reports, tmp_path / "review", root)
    text = md.read_text()
    assert "run new-run" in text and "2 drill(s): 1 PASS, 1 FAIL" in text and "old-run" not in text
    assert "3.3s / 5.0s (met)" in text and "3m18s" in text, "times with their real-time equivalents"
    assert "The alert cannot see this fault" in text, "a FAIL's action item"
    assert "1 journal(s) written by an older gameday" in text
    assert "harness saw" not in text, "the harness's own noticing is a diagnosis, not the timeline"
    page = html.read_text()
    assert "stop-service &lt;b&gt;" in page and "stop-service <b>" not in page, "a journal's text is escaped"
    refs = Refs()
    refs.feed(page)
    images = [r for r in refs.refs if r.endswith(".png")]
    assert len(images) == 2 and any(r.endswith("001-high-error-rate.md") for r in refs.refs)
    broken = [r for r in refs.refs if not (html.parent / r).exists()]
    assert broken == [], "every link and image of the review opens"


def test_a_run_can_be_chosen_and_an_empty_folder_says_so(tmp_path, root):
    reports = tmp_path / "reports"
    drill(reports, "high-error-rate", "a", "2026-11-01T10:00:00", plot=False)
    drill(reports, "high-error-rate", "b", "2026-11-02T10:00:00", plot=False)
    assert load_run(reports, "a")[0] == "a" and len(load_run(reports, "a")[1]) == 1
    assert write_review(tmp_path / "nothing", tmp_path / "out", root) is None


def test_slo_impact_is_the_share_of_the_windows_budget_at_real_speed(root):
    j = journal()
    j["load"] |= {"requests": 1000, "failures": 1000}  # everything failed
    impact = slo_impact(j, slo_of(root / "config"))  # 99.5% over 30 days: 216 min of budget
    real_minutes = (15.0 - 1.0) * 60 / 60  # from baseline load to the last mark, at time scale 60
    assert abs(impact["spent_pct"] - real_minutes / 216 * 100) < 0.01
    assert impact["state_after"] == "healthy"


def test_an_error_is_not_judged_on_the_alert():
    assert "did not reach a verdict" in action_items({"verdict": "ERROR", "reasons": ["Prometheus gone"]})[0]
    assert action_items({"verdict": "PASS", "reasons": []}) == []


def test_a_journal_that_is_not_one_is_named_not_a_crash(tmp_path, root):
    reports = tmp_path / "reports"
    drill(reports, "high-error-rate", "r", "2026-11-02T10:00:00", plot=False)
    write(reports, "odd", {"schema": 2, "scenario": "x"})  # no start time
    write(reports, "worse", {"schema": "2", "started": 5})
    (reports / "drills" / "broken.json").write_text("{not json")
    md, _ = write_review(reports, tmp_path / "review", root)
    text = md.read_text()
    assert "odd.json: not a drill journal" in text and "broken.json: unreadable" in text
    assert "1 journal(s) written by an older gameday" in text

