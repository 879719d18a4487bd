"""The terminal view of a drill: phases and marks as they happen, a live line while waiting."""

from __future__ import annotations

import time
from typing import Any

from gameday.core.durations import human
from gameday.core.verdict import Verdict
from gameday.record.journal import DrillRecord

MARK_TEXT = {"t_alerting_reset": "clean slate", "t_inject": "fault injected", "t_firing": "alert firing",
             "t_notified": "page arrived",
             "t_mitigated": "mitigated", "t_resolved": "resolved page"}


class ConsoleReporter:
    """Subscriber to one drill's events; writes through pytest's terminal writer."""

    def __init__(self, write: Any, live: bool, heartbeat: float = 10.0) -> None:
        self._write = write  # write(text, **markup) with capture suspended
        self.live, self.heartbeat = live, heartbeat
        self._status_shown = False
        self._last_beat = 0.0
        self._t_inject: float | None = None

    def _line(self, text: str, **markup: bool) -> None:
        if self._status_shown:
            self._write("\r\x1b[2K")
            self._status_shown = False
        self._write(text + "\n", **markup)

    def on_phase_started(self, phase: str, t: float, **_: Any) -> None:
        self._line(f"    {human(t):>7}  ▸ {phase}", cyan=True)

    def on_marked(self, name: str, t: float, detail: str = "", **_: Any) -> None:
        if name not in MARK_TEXT:
            return
        if name == "t_inject":
            self._t_inject = t
        since = "" if self._t_inject is None or name == "t_inject" else f" +{human(t - self._t_inject)}"
        self._line(f"    {human(t):>7}    {MARK_TEXT[name]}{since}: {detail}")

    def on_noted(self, t: float, note: str, **_: Any) -> None:
        self._line(f"    {human(t):>7}    {note}")

    def on_progress(self, phase: str, t: float, elapsed: float | None, deadline: float | None, note: str,
                    **_: Any) -> None:
        budget = f" / {human(deadline)}" if deadline is not None else ""
        text = f"    {human(t):>7}    … {phase} {human(elapsed) if elapsed is not None else ''}{budget}  {note}"
        if self.live:
            self._write("\r\x1b[2K" + text[:160])
            self._status_shown = True
        elif time.monotonic() - self._last_beat >= self.heartbeat:
            self._last_beat = time.monotonic()
            self._line(text)

    def on_finished(self, record: DrillRecord, **_: Any) -> None:
        verdict = record.verdict
        self._line(f"    verdict {verdict}" + (f": {record.reasons[0]}" if record.reasons else ""),
                   **Verdict(verdict).markup)
        if record.path:
            self._line(f"    journal {record.path}")


MET = {True: "yes", False: "NO", None: "-"}


def summary_rows(records: list[DrillRecord], real: bool = False) -> list[list[str]]:
    """One row per expected alert of each drill, each with its own times against its own SLA."""
    rows = []
    for r in records:
        for i, alert in enumerate(r.expected or [""]):
            t = r.timings_of(alert) if alert else r.timings
            sla = r.goals.get(f"sla:{alert}")
            met = r.alert_summary(alert)["sla_met"] if alert else None
            first = i == 0
            row = [r.scenario_id if first else "", r.priority if first else "", r.verdict if first else "",
                   alert or "-", human(t.ttd), human(t.ttn), human(sla), MET[met], human(t.mttr),
                   human(r.goals.get("mttr"))]
            if real:
                row += [f"{human(r.real(t.ttn))}/{human(r.real(sla))}",
                        f"{human(r.real(t.mttr))}/{human(r.real(r.goals.get('mttr')))}"]
            rows.append(row)
    return rows


def render_summary(records: list[DrillRecord], width: int) -> str:
    """The end-of-run table: one row per drill with its times against its goals, then the reasons."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    scales = sorted({r.time_scale for r in records})
    scaled = scales != [1.0]
    title = "gameday drills"
    if scaled:
        title += f" at time scale {', '.join(f'{s:g}' for s in scales)}: times as measured, goals scaled"
    table = Table(title=title, title_justify="left")
    columns = ["scenario", "prio", "verdict", "alert", "TTD", "TTN", "SLA", "met", "MTTR", "goal"]
    if scaled:
        columns += ["real TTN/SLA", "real MTTR/goal"]
    for col in columns:
        table.add_column(col, no_wrap=True)
    for row in summary_rows(records, real=scaled):
        row[2] = f"[{Verdict(row[2]).color}]{row[2]}[/]" if row[2] else ""
        table.add_row(*row)
    buf = StringIO()
    Console(file=buf, width=max(150, width), force_terminal=False, color_system=None).print(table)
    for r in records:
        for reason in r.reasons:
            buf.write(f"{r.scenario_id} {r.verdict}: {reason}\n")
    return buf.getvalue()
