"""The drill journal: one record of everything that happened, the single artifact reports read."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.clock import Clock
from gameday.timing import Timings

VERDICTS = ("PASS", "FAIL", "ERROR", "ABORTED", "SKIPPED")


@dataclass
class DrillRecord:
    scenario_id: str
    title: str
    priority: str
    runbook: str
    time_scale: float
    clock: Clock
    goals: dict[str, float] = field(default_factory=dict)
    """Scaled goals: ``sla:<alert>`` and ``mttr``, in seconds on the drill clock."""
    marks: dict[str, float] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    floors: dict[str, float] = field(default_factory=dict)
    alert_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per expected alert, the Alertmanager group its page met: read at preflight and at the fault."""
    error_budget: dict[str, Any] = field(default_factory=dict)
    """What the error-budget gate read and decided (``gameday.errorbudget.Decision``)."""
    verdict: str = "ERROR"
    reasons: list[str] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)
    fault: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def timings(self) -> Timings:
        return Timings.from_marks(self.marks)

    @property
    def sla(self) -> float | None:
        """The detection SLA of the first expected alert (the one the timings are of)."""
        return next((v for k, v in self.goals.items() if k.startswith("sla:")), None)

    def real(self, seconds: float | None) -> float | None:
        """A drill-clock duration in real-time equivalent (times the time scale)."""
        return None if seconds is None else seconds * self.time_scale

    # event listeners: the journal is a subscriber like the console and the report
    def on_phase_started(self, phase: str, t: float, **_: Any) -> None:
        self.phases.append({"phase": phase, "start": t, "end": None, "error": None, "cpu": time.process_time()})
        self.events.append({"t": t, "event": "phase_started", "phase": phase})

    def on_phase_ended(self, phase: str, t: float, error: BaseException | None = None, **_: Any) -> None:
        text = None if error is None else f"{type(error).__name__}: {error}"
        for p in reversed(self.phases):
            if p["phase"] == phase and p["end"] is None:
                p["end"], p["error"] = t, text
                cpu = time.process_time() - p["cpu"]
                p["cpu"] = round(cpu, 4)
                p["cpu_share"] = round(cpu / (t - p["start"]), 4) if t > p["start"] else None
                """the harness process's CPU during the phase, as a share of one core"""
                break
        self.events.append({"t": t, "event": "phase_ended", "phase": phase, "error": text})

    def on_marked(self, name: str, t: float, detail: str = "", **_: Any) -> None:
        self.marks[name] = t
        self.events.append({"t": t, "event": "mark", "name": name, "detail": detail})

    def on_noted(self, phase: str, t: float, note: str, **_: Any) -> None:
        self.events.append({"t": t, "event": "note", "phase": phase, "note": note})

    def as_dict(self) -> dict[str, Any]:
        timings = self.timings.as_dict()
        return {
            "scenario": self.scenario_id, "title": self.title, "priority": self.priority, "runbook": self.runbook,
            "time_scale": self.time_scale, "started": self.clock.iso(0.0), "verdict": self.verdict,
            "reasons": self.reasons, "goals": self.goals, "floors": self.floors,
            "alert_groups": self.alert_groups, "error_budget": self.error_budget,
            "timings": timings,
            "timings_real": {k: self.real(v) for k, v in timings.items()},
            "marks": {k: {"t": v, "wall": self.clock.iso(v)}
                      for k, v in sorted(self.marks.items(), key=lambda x: x[1])},
            "phases": self.phases, "events": self.events, "fault": self.fault, "load": self.load,
            "notifications": self.notifications,
        }

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = self.clock.iso(0.0).replace(":", "").replace("-", "").split("+")[0]  # ms: repeats stay apart
        self.path = directory / f"{self.scenario_id}-{stamp}.json"
        self.path.write_text(json.dumps(self.as_dict(), indent=2, default=str))
        return self.path
