"""A shadow exercise's debrief as lines of text, from the journal's ``shadow`` record: on the terminal at the end
of the exercise and in the review."""

from __future__ import annotations

from typing import Any

from gameday.core.durations import human


def debrief_lines(d: dict[str, Any]) -> list[str]:
    auto = d.get("automated") or {}

    def row(name: str, value: float | None, goal: float | None, met: bool | None, auto_v: float | None) -> str:
        verdict = "" if met is None else ("  met" if met else "  MISSED")
        beside = f"   automated drill: {human(auto_v)}" if auto_v is not None else ""
        return (f"  {name:<12} {human(value) if value is not None else 'never':>8}"
                f"{' / goal ' + human(goal) if goal else ''}{verdict}{beside}")

    lines = ["shadow exercise debrief (real time)",
             row("acknowledge", d["acknowledge"], d["acknowledge_goal"], d["acknowledge_met"], None),
             row("mitigate", d["mitigate"], None, None, auto.get("mitigate")),
             row("recover", d["mttr"], d["mttr_goal"], d["mttr_met"], auto.get("mttr"))]
    if d["escalated"]:
        lines.append("  the acknowledgement time passed: the escalation path paged the secondary")
    if d["safety_revert"]:
        lines.append("  not mitigated: the harness reverted the fault at the safety timeout")
    if auto:
        lines.append(f"  automated drill compared: {auto.get('journal', '?')}")
    return lines
