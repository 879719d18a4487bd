"""Trends across runs: a TTN that grew past its recent median, or a margin to the SLA that shrank, is named."""

from __future__ import annotations

import json

from gameday.report.trends import Policy, earlier_ttns, regression, trends_of


def journal(started: str, ttn: float, scenario="high-error-rate", scale=60, verdict="PASS", sla=5.0):
    return {"scenario": scenario, "started": started, "time_scale": scale, "verdict": verdict,
            "alerts": {"HighErrorRate": {"sla": sla, "timings": {"ttn": ttn}}}}


def write(reports, j, n):
    (reports / "drills").mkdir(parents=True, exist_ok=True)
    (reports / "drills" / f"{j['scenario']}-{n}.json").write_text(json.dumps(j))


def test_the_history_is_the_same_scenario_at_the_same_scale_before_this_drill(tmp_path):
    for n, (day, ttn) in enumerate([("01", 2.0), ("02", 2.2), ("03", 1.8), ("04", 9.0)]):
        write(tmp_path, journal(f"2026-11-{day}", ttn), n)
    write(tmp_path, journal("2026-11-02T12", 7.0, scale=1), 10)  # another time scale
    write(tmp_path, journal("2026-11-02T13", 7.0, verdict="ERROR"), 11)  # no verdict on the alert
    write(tmp_path, journal("2026-11-02T14", 7.0, scenario="service-outage"), 12)
    assert earlier_ttns(tmp_path, "high-error-rate", "HighErrorRate", 60, "2026-11-04", 5) == [2.0, 2.2, 1.8]
    assert earlier_ttns(tmp_path, "high-error-rate", "HighErrorRate", 60, "2026-11-04", 2) == [2.2, 1.8]


def test_a_slower_ttn_or_a_thin_margin_is_a_regression_and_a_steady_one_is_not():
    policy = Policy()
    assert "above its recent median of 2.0s" in regression(2.6, 5.0, [2.0, 2.1, 1.9], policy)
    assert regression(2.4, 5.0, [2.0, 2.1, 1.9], policy) is None
    assert "leaves 6% of its SLA" in regression(4.7, 5.0, [], policy)
    assert regression(2.6, 5.0, [2.0, 2.1], policy) is None, "two earlier drills are no trend yet"
    assert regression(None, 5.0, [2.0, 2.1, 1.9], policy) is None


def test_trends_of_a_journal(tmp_path):
    for n, ttn in enumerate([2.0, 2.1, 1.9]):
        write(tmp_path, journal(f"2026-11-0{n + 1}", ttn), n)
    trend = trends_of(tmp_path, journal("2026-11-09", 3.0), Policy())["HighErrorRate"]
    assert trend["median"] == 2.0 and trend["history"] == [2.0, 2.1, 1.9] and "50% above" in trend["regression"]


def colour_pixels(png, hex_colour, tolerance=0.06):
    """How many pixels of the PNG are within ``tolerance`` of the colour (each channel 0..1)."""
    import matplotlib.image
    import numpy as np

    img = matplotlib.image.imread(png)[..., :3]
    want = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(img - want).max(axis=2) < tolerance).sum())


def test_the_trend_plot_draws_ttd_ttn_and_mttr_of_each_earlier_drill_and_this_one(tmp_path):
    from gameday.report.plots import TREND, render_trend

    def full(started, ttd, ttn, mttr):
        j = journal(started, ttn)
        j["alerts"]["HighErrorRate"]["timings"] |= {"ttd": ttd, "mttr": mttr}
        return j | {"goals": {"mttr": 10.0}}

    for n, (ttd, ttn, mttr) in enumerate([(1.0, 2.0, 4.0), (1.1, 2.1, 4.2), (0.9, 1.9, 3.9)]):
        write(tmp_path, full(f"2026-11-0{n + 1}T10:00:00", ttd, ttn, mttr), n)
    this = full("2026-11-09T10:00:00", 1.0, 3.0, 4.1)
    this["trends"] = trends_of(tmp_path, this, Policy())
    runs = this["trends"]["HighErrorRate"]["runs"]
    assert [r["ttd"] for r in runs] == [1.0, 1.1, 0.9] and [r["mttr"] for r in runs] == [4.0, 4.2, 3.9]
    out = render_trend(this, tmp_path / "trend.png")
    for _, label, colour, _ in TREND:
        assert colour_pixels(out, colour) > 150, f"no {label} line in the trend plot"
    lonely = full("2026-11-09T10:00:00", 1.0, 3.0, 4.1)
    lonely["trends"] = trends_of(tmp_path / "empty", lonely, Policy())
    assert render_trend(lonely, tmp_path / "none.png") is None, "no earlier drill: no trend to draw"
    assert not (tmp_path / "none.png").exists()
