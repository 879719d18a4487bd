"""The drill's plot, timeline and Allure run files, from journals alone (no stack needed)."""

from __future__ import annotations

import json
import struct

import pytest

from gameday.core.clock import Clock
from gameday.record.journal import SCHEMA, DrillRecord
from gameday.report.allure import CATEGORIES, write_run_files
from gameday.report.capture import locust_history, split_comparison
from gameday.report.plots import render
from gameday.report.review import drill_page


def journal(**extra):
    series = {"start": 0.0, "end": 20.0, "step": 0.5,
              "rules": {"HighErrorRate": [{"query": "sum(rate(x[5s])) / sum(rate(y[5s]))", "threshold": 0.05,
                                           "series": [{"labels": {}, "points": [[t / 2, 0.01 if t < 10 else 0.6]
                                                                                for t in range(40)]}]}],
                        "ServiceDown": [{"query": "up", "threshold": 0.0, "error": "HTTP 400: bad_data"}]},
              "alert_states": {"series": [{"labels": {"alertname": "HighErrorRate", "alertstate": "firing"},
                                           "points": [[t / 2, 1.0] for t in range(14, 30)]}]},
              "panels": [{"title": "error ratio", "unit": "ratio", "series": []}]}
    marks = {"t_steady": 1.0, "t_inject": 4.0, "t_firing": 7.0, "t_notified": 7.3, "t_mitigated": 7.4,
             "t_resolved": 15.0}
    return {"schema": SCHEMA, "scenario": "high-error-rate", "title": "Backend down", "verdict": "PASS",
            "time_scale": 60, "alerts": {"HighErrorRate": {}}, "goals": {"sla:HighErrorRate": 5.0, "mttr": 15.0},
            "marks": {k: {"t": v} for k, v in marks.items()}, "phases": [], "series": series,
            "load": {"history": [{"t": float(t), "users": 5, "rps": 40.0, "failures": 0.0 if t < 4 else 38.0}
                                 for t in range(1, 19)]}} | extra


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_a_drill_plot_is_a_png_with_a_panel_per_rule_state_sli_and_load(tmp_path):
    out = render(journal(), tmp_path / "d.png")
    width, height = png_size(out)
    fewer = render(journal(load={}), tmp_path / "e.png")
    assert width > 800 and height > png_size(fewer)[1], "the load panel adds height"


def test_a_drill_stopped_before_its_fault_has_no_plot(tmp_path):
    assert render(journal(series={}), tmp_path / "x.png") is None
    assert render(journal(series={"error": "ConnectionError"}), tmp_path / "y.png") is None
    assert not (tmp_path / "x.png").exists()


def test_a_rule_splits_into_its_conditions_and_thresholds():
    assert split_comparison("a > 0.5") == [("a", ">", 0.5)]
    both = split_comparison("(x > (14.4 * 0.005)) and (y > (14.4 * 0.005))")
    assert [e for e, _, _ in both] == ["x", "y"] and [t for _, _, t in both] == pytest.approx([0.072, 0.072])
    assert split_comparison("up == 0") == [("up", "==", 0.0)]
    assert split_comparison("absent(up)") == [("absent(up)", None, None)]


def test_locust_history_becomes_rates_on_the_drill_clock(tmp_path):
    clock = Clock()
    wall = clock.anchor_wall
    rows = ["Timestamp,User Count,Type,Name,Total Request Count,Total Failure Count"]
    rows += [f"{int(wall) + i},5,,Aggregated,{40 * i},{2 * i}" for i in range(1, 4)]
    (tmp_path / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    history = locust_history(tmp_path / "locust", clock)
    assert [round(p["rps"]) for p in history] == [40, 40] and [round(p["failures"]) for p in history] == [2, 2]


def test_a_drills_load_history_counts_from_its_statistics_reset_and_from_the_row_before_its_window(tmp_path):
    """A session's Locust: the last drill's rows, a reset, this drill's rows. The first row of the window takes its
    rate from the row before the window; the first row after the reset counts from the reset's own second."""
    clock = Clock()
    w = int(clock.anchor_wall)
    rows = ["Timestamp,User Count,Type,Name,Total Request Count,Total Failure Count"]
    rows += [f"{w + i},5,,Aggregated,{40 * i},0" for i in range(1, 4)]  # the last drill: 40 a second
    rows += [f"{w + 4},8,,Aggregated,30,3", f"{w + 5},8,,Aggregated,90,6"]  # reset at w + 3: 30, then 60 a second
    (tmp_path / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    at = clock.from_wall
    history = locust_history(tmp_path / "locust", clock, since=at(w + 2), reset_at=at(w + 3))
    assert [(round(p["t"] - at(w)), round(p["rps"]), round(p["failures"])) for p in history] == \
           [(2, 40, 0), (3, 40, 0), (4, 30, 3), (5, 60, 3)]
    unknown = locust_history(tmp_path / "locust", clock, since=at(w + 2))
    assert [round(p["t"] - at(w)) for p in unknown] == [2, 3, 5], "a reset at an unknown time: that row is left out"


def test_the_drill_page_for_allure_is_escaped_html_that_travels_alone(tmp_path, root):
    """The drill's Allure attachment: its section of the review, escaped, with its plot inlined (an attachment
    cannot reach files beside it) and the runbook linked by absolute path."""
    rec = DrillRecord("s<x>", "T<script>", "p0", "runbooks/001-high-error-rate.md", 60, Clock())
    rec.on_marked("t_notified", 3.0, "page at <pager>")
    rec.verdict, rec.reasons = "FAIL", ["late <b>"]
    rec.plot = str(render(journal(), tmp_path / "d.png"))
    page = drill_page(rec.as_dict(), root)
    assert "<script>" not in page and "&lt;script&gt;" in page and "Alertmanager" in page and "late &lt;b&gt;" in page
    assert 'src="data:image/png;base64,' in page and "Times against goals" in page and "Timeline" in page
    assert f'href="{(root / "runbooks/001-high-error-rate.md").as_uri()}"' in page


def test_categories_and_environment_for_allure(tmp_path):
    rec = DrillRecord("s", "T", "p0", "runbooks/x.md", 60, Clock())
    rec.stack = {"target": "lab", "prometheus": "2.42.0", "alertmanager": "0.25.0"}
    write_run_files(tmp_path, [rec])
    env = (tmp_path / "environment.properties").read_text()
    assert "Prometheus=2.42.0" in env and "time.scale=60" in env and "target=lab" in env
    names = [c["name"] for c in json.loads((tmp_path / "categories.json").read_text())]
    assert names == [c["name"] for c in CATEGORIES] and "never fired" in names


SCHEMA_FIELDS = {"schema", "run", "scenario", "title", "priority", "runbook", "time_scale", "started", "verdict",
                 "reasons", "goals", "floors", "alert_groups", "error_budget", "timings", "timings_real", "alerts",
                 "marks", "phases", "events", "fault", "timer_lag", "load", "stack", "series", "plot", "trends",
                 "trend_plot", "notifications", "shadow", "pages_refused", "cautions", "pages"}


def test_a_journal_round_trips_and_every_report_renders_from_the_file_alone(tmp_path, root):
    """Written, read back: the schema's fields are all there with their types, and the plot and the drill's review
    page come from the file alone, with the same times."""
    rec = DrillRecord("high-error-rate", "Backend down", "p0", "runbooks/001-high-error-rate.md", 60, Clock())
    rec.goals = {"sla:HighErrorRate": 5.0, "mttr": 15.0}
    rec.receivers = {"HighErrorRate": "pager"}
    for name, t in (("t_steady", 1.0), ("t_inject", 4.0), ("t_firing", 7.0), ("t_notified", 7.3),
                    ("t_mitigated", 7.4), ("t_resolved", 15.0)):
        rec.on_marked(name, t, "", alert="HighErrorRate" if name in ("t_firing", "t_notified", "t_resolved")
                      else None)
    rec.series, rec.load = journal()["series"], journal()["load"] | {"requests": 900, "failures": 90}
    rec.trends = {"HighErrorRate": {"history": [3.1], "median": 3.1, "regression": None,
                                    "runs": [{"started": "2026-11-01T10:00:00", "verdict": "PASS", "ttd": 3.0,
                                              "ttn": 3.1, "mttr": 7.0}]}}
    rec.on_phase_started("detect", 4.0)
    sum(i * i for i in range(200_000))  # some CPU of this thread's own within the phase
    rec.on_phase_ended("detect", 7.3)
    from gameday.shadow.debrief import debrief

    rec.shadow = debrief(rec, None)
    back = json.loads(rec.write(tmp_path / "drills").read_text())
    assert set(back) == SCHEMA_FIELDS and back["schema"] == SCHEMA == 5
    (detect,) = back["phases"]
    assert detect["cpu_threads"]["MainThread"] > 0 and sum(detect["cpu_threads"].values()) == \
        pytest.approx(detect["cpu"], abs=0.002), "the split accounts for the phase's CPU"
    assert back["alerts"]["HighErrorRate"]["timings"]["ttn"] == pytest.approx(3.3)
    assert back["timings_real"]["ttn"] == pytest.approx(198.0) and back["marks"]["t_inject"]["t"] == 4.0
    assert isinstance(back["phases"], list) and isinstance(back["events"], list) and back["plot"] is None
    assert render(back, tmp_path / "p.png").is_file()
    from gameday.report.plots import render_trend

    assert render_trend(back, tmp_path / "t.png").is_file()
    page = drill_page(back | {"_path": str(rec.path)}, root)
    assert "3.3s (3m18s)" in page and "HighErrorRate" in page
    assert "90 of 900 requests failed" in page
    assert "Shadow exercise: the trainee's debrief" in page and "recover" in page
    again = DrillRecord.from_journal(rec.path)
    assert json.loads(json.dumps(again.as_dict(), default=str)) == back, "read back, it writes the same journal"
    from gameday.report.console import summary_rows

    assert summary_rows([again], real=True) == summary_rows([rec], real=True)


def test_a_file_that_is_not_a_journal_of_this_schema_is_refused(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(journal(schema=SCHEMA - 1)))
    with pytest.raises(ValueError, match="schema"):
        DrillRecord.from_journal(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a gameday journal"):
        DrillRecord.from_journal(path)
