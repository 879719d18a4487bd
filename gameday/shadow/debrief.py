"""A shadow exercise's debrief: the trainee's times beside the goals and beside the newest automated drill of
the same scenario, in the journal (``shadow``), on the terminal and in the review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gameday.shadow import ACK_GOALS


def debrief(record: Any, automated: dict[str, Any] | None) -> dict[str, Any]:
    """The trainee's times beside the goals (real time) and beside the newest automated drill of the scenario."""
    m, scale = record.marks, record.time_scale
    page = m.get("t_notified")

    def real(a: str, b: float | None) -> float | None:
        return None if b is None or a not in m else (m[a] - b) * scale

    ack_goal = ACK_GOALS.get(record.priority, 300.0)
    t = record.timings
    out = {
        "acknowledge": real("t_acked", page), "acknowledge_goal": ack_goal,
        "mitigate": real("t_mitigated", page) if "t_safety_revert" not in m else None,
        "mttr": None if t.mttr is None else t.mttr * scale, "mttr_goal": record.goals.get("mttr", 0.0) * scale,
        "escalated": "t_escalated" in m, "safety_revert": "t_safety_revert" in m,
        "automated": automated,
    }
    out["acknowledge_met"] = out["acknowledge"] is not None and out["acknowledge"] <= ack_goal
    out["mttr_met"] = out["mttr"] is not None and out["mttr"] <= out["mttr_goal"]
    return out


def newest_automated(drills: Path, scenario: str, exclude: Path | None = None) -> dict[str, Any] | None:
    """The newest passed drill of ``scenario`` that was not a shadow exercise: its real-time mitigation and MTTR."""
    for path in sorted(drills.glob(f"{scenario}-*.json"), reverse=True):
        if path == exclude or path.name.endswith("-trend.json"):
            continue
        try:
            j = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if j.get("shadow") or j.get("verdict") != "PASS":
            continue
        marks, scale = j.get("marks", {}), float(j.get("time_scale") or 1.0)
        page, mitigated = marks.get("t_notified", {}).get("t"), marks.get("t_mitigated", {}).get("t")
        mttr = (j.get("timings") or {}).get("mttr")
        return {"journal": path.name, "mitigate": None if page is None or mitigated is None
                else max(0.0, mitigated - page) * scale, "mttr": None if mttr is None else mttr * scale}
    return None
