"""Trends across runs: is an alert getting slower? From the journals alone.

For each expected alert of a drill, the TTNs of the same scenario's earlier drills (their journals in
``reports/drills``, at the same time scale, newest ``window`` of them) make its recent median. A drill
regressed when its TTN grew past ``growth`` of that median, or when its margin to the SLA shrank below
``margin`` of the SLA. Nightly CI keeps its reports folder between runs to see this.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.core.durations import human
from gameday.core.verdict import Verdict

JUDGED = {v.value for v in Verdict if v.judged}


@dataclass(frozen=True)
class Policy:
    growth: float = 0.25
    """A TTN this share above the recent median is a regression."""
    margin: float = 0.1
    """A margin to the SLA below this share of the SLA is a regression."""
    window: int = 5
    """How many earlier drills make the recent median."""
    least: int = 3
    """Fewer earlier drills than this: no trend yet."""


def earlier_runs(reports: Path, scenario: str, alert: str, scale: float, before: str,
                 window: int) -> list[dict[str, Any]]:
    """The times of ``alert`` in the newest ``window`` earlier drills of ``scenario`` at time scale ``scale``,
    oldest first: ``started``, ``verdict``, ``ttd``, ``ttn`` and ``mttr`` (seconds on the drill clock, or None)."""
    found: list[dict[str, Any]] = []
    for path in (reports / "drills").glob(f"{scenario}-*.json"):
        try:
            j = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(j, dict) or j.get("scenario") != scenario or j.get("time_scale") != scale:
            continue
        if str(j.get("started", "")) >= before or j.get("verdict") not in JUDGED:
            continue
        timings = ((j.get("alerts") or {}).get(alert) or {}).get("timings") or {}
        if not isinstance(timings.get("ttn"), (int, float)):
            continue
        found.append({"started": str(j["started"]), "verdict": j["verdict"]}
                     | {k: timings.get(k) if isinstance(timings.get(k), (int, float)) else None
                        for k in ("ttd", "ttn", "mttr")})
    return sorted(found, key=lambda r: r["started"])[-window:]


def earlier_ttns(reports: Path, scenario: str, alert: str, scale: float, before: str, window: int) -> list[float]:
    """TTNs of ``alert`` in earlier drills of ``scenario`` at time scale ``scale``, oldest first."""
    return [float(r["ttn"]) for r in earlier_runs(reports, scenario, alert, scale, before, window)]


def regression(ttn: float | None, sla: float | None, history: list[float], policy: Policy) -> str | None:
    """Why this TTN is a regression against its history and SLA, or None."""
    if ttn is None:
        return None
    if len(history) >= policy.least:
        median = statistics.median(history)
        if median > 0 and ttn > median * (1 + policy.growth):
            return (f"TTN {human(ttn)} is {ttn / median - 1:.0%} above its recent median of {human(median)} "
                    f"({len(history)} earlier drills; the line is {policy.growth:.0%})")
    if sla and sla > 0 and ttn <= sla and (sla - ttn) / sla < policy.margin:
        return (f"TTN {human(ttn)} leaves {(sla - ttn) / sla:.0%} of its SLA of {human(sla)} as margin "
                f"(the line is {policy.margin:.0%})")
    return None


def trends_of(reports: Path, journal: dict[str, Any], policy: Policy) -> dict[str, dict[str, Any]]:
    """Per expected alert of a drill's journal: its recent TTNs, their median, and a regression if there is one."""
    out = {}
    for alert, summary in (journal.get("alerts") or {}).items():
        runs = earlier_runs(reports, str(journal.get("scenario")), alert, journal.get("time_scale", 1),
                            str(journal.get("started", "")), policy.window)
        history = [float(r["ttn"]) for r in runs]
        ttn = (summary.get("timings") or {}).get("ttn")
        out[alert] = {"history": history, "median": statistics.median(history) if history else None,
                      "regression": regression(ttn, summary.get("sla"), history, policy), "runs": runs}
    return out
