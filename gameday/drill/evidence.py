"""The evidence a drill leaves beside its verdict, gathered in its verdict phase while the stack is still up:
range data and versions (``capture``), the plot (``plots``) and the trend against earlier drills (``trends``).
None of it can change a verdict except a regression under ``--regression fail``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gameday.core.verdict import Verdict
from gameday.drill.context import PhaseContext
from gameday.report.capture import capture, locust_history, panels_config
from gameday.report.plots import render, render_trend
from gameday.report.trends import Policy, trends_of
from gameday.target.protocol import optional


def gather_evidence(drill: PhaseContext) -> None:
    capture_series(drill)
    journal = drill.record.as_dict()  # built once for the trend and the plot
    judge_trend(drill, journal)  # first: a regression under --regression fail changes the verdict the plot shows
    draw(drill, journal | {"verdict": drill.record.verdict, "reasons": drill.record.reasons})


def capture_series(drill: PhaseContext) -> None:
    """Range data for the plots and the review, while the stack is still up; never in the verdict's way."""
    rec = drill.record
    if drill.load is not None:
        reset = getattr(drill.load, "reset_wall", None)
        rec.load["history"] = locust_history(drill.load.prefix, drill.clock,
                                             since=max(0.0, rec.marks.get("t_steady", 0.0) - 1.0),
                                             reset_at=None if reset is None else drill.clock.from_wall(reset))
    rec.stack = {"target": drill.target.name, "prometheus_url": drill.target.prometheus.base_url,
                 "alertmanager_url": drill.target.alertmanager.base_url}
    if skew := optional(drill.target, "clock_skew"):
        rec.stack["clock_skew"] = dict(skew)
    for name, api in (("prometheus", drill.target.prometheus), ("alertmanager", drill.target.alertmanager)):
        try:
            rec.stack[name] = api.version()
        except Exception:  # noqa: BLE001 - evidence only: the verdict does not depend on it
            rec.stack[name] = "unreachable at the end of the drill"
    if drill.pre is None or not drill.timing or "t_inject" not in rec.marks:
        return  # stopped before the fault: nothing happened worth a picture
    if rec.stack["prometheus"].startswith("unreachable"):  # asked once just now: no range query is worth retrying
        rec.series = {"error": "Prometheus did not answer at the end of the drill: no range data"}
        return
    config = getattr(optional(drill.target, "config"), "config_dir", None) or drill.ctx.root / "config"
    start = max(0.0, rec.marks.get("t_steady", 0.0) - 1.0)
    scrape = next(iter(drill.timing.values())).scrape_interval
    watched = [*(e.alert for e in drill.scenario.expect), *drill.scenario.quiet]
    try:
        rec.series = capture(drill.target.prometheus, drill.clock, start, drill.clock.now(), drill.pre.rules, watched,
                             panels_config(Path(config)), scrape)
    except Exception as exc:  # noqa: BLE001 - a missing picture says why; the verdict stands
        rec.series = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}

def judge_trend(drill: PhaseContext, journal: dict[str, Any]) -> None:
    """Each expected alert's TTN against the scenario's earlier drills: a regression is said, or FAILs."""
    rec = drill.record
    if not Verdict(rec.verdict).judged:
        return
    rec.trends = trends_of(drill.ctx.reports, journal, Policy())
    found = [f"{alert}: {t['regression']}" for alert, t in rec.trends.items() if t["regression"]]
    for line in found:
        drill.events.noted.fire(phase=drill.phase, t=drill.clock.now(), note=f"regression: {line}")
    if found and drill.ctx.regression == "fail" and rec.verdict == Verdict.PASS:
        rec.verdict, rec.reasons = Verdict.FAIL, [f"regression (--regression fail): {'; '.join(found)}"]
    if drill.ctx.plots:
        out = drill.ctx.reports / "drills" / f"{rec.file_stem()}-trend.png"
        try:
            drawn = render_trend(journal | {"trends": rec.trends, "verdict": rec.verdict}, out)
        except Exception as exc:  # noqa: BLE001 - a trend that cannot be drawn says why; the verdict stands
            drill.events.noted.fire(phase=drill.phase, t=drill.clock.now(),
                                    note=f"trend plot not drawn: {type(exc).__name__}: {str(exc)[:200]}")
            return
        rec.trend_plot = str(drawn) if drawn else None


def draw(drill: PhaseContext, journal: dict[str, Any]) -> None:
    """The drill's plot beside its journal (``gameday.report.plots``), when there is something to draw."""
    rec = drill.record
    if not drill.ctx.plots or not rec.series or "error" in rec.series:
        return
    out = drill.ctx.reports / "drills" / f"{rec.file_stem()}.png"
    try:
        drawn = render(journal, out)
    except Exception as exc:  # noqa: BLE001 - a plot that cannot be drawn says why; the verdict stands
        rec.series["plot_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        return
    rec.plot = str(drawn) if drawn else None

