"""The drill journal: one record of everything that happened, the single artifact reports read."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.core.clock import Clock
from gameday.core.verdict import Verdict
from gameday.pipeline.timing import Timings

VERDICTS = tuple(v.value for v in Verdict)
SCHEMA = 5
"""The journal's layout version: 2 added ``run``, ``stack``, ``series``, ``plot``, ``timer_lag`` and this field;
3 added ``trend_plot`` and each trend's ``runs``; 4 added ``shadow`` (a shadow exercise's debrief) and each
phase's ``cpu_threads``; 5 added ``pages_refused`` and ``cautions`` (and later ``pages``, which a reader of an
older 5 finds empty). Readers check it."""
PER_ALERT = frozenset({"t_firing", "t_firing_seen", "t_notified", "t_notified_seen", "t_resolved"})
"""Marks that belong to one expected alert; the others (``t_inject``, ``t_mitigated`` ...) are the drill's."""


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
    """The drill's marks; the per-alert ones (``PER_ALERT``) here are the first expected alert's."""
    alert_marks: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per expected alert, its own ``PER_ALERT`` marks."""
    receivers: dict[str, str] = field(default_factory=dict)
    """Per expected alert, the receiver its page must reach."""
    phases: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    floors: dict[str, float] = field(default_factory=dict)
    alert_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per expected alert, the Alertmanager group its page met: read at preflight and at the fault."""
    error_budget: dict[str, Any] = field(default_factory=dict)
    """What the error-budget gate read and decided (``gameday.target.errorbudget.Decision``)."""
    verdict: Verdict = Verdict.ERROR
    reasons: list[str] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)
    fault: dict[str, Any] = field(default_factory=dict)
    trends: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per expected alert: the scenario's recent TTNs, their median, and a regression if there is one."""
    run_id: str = ""
    """The run (pytest session) the drill was part of."""
    stack: dict[str, str] = field(default_factory=dict)
    """The target and the versions of its Prometheus and Alertmanager, read at the end of the drill."""
    series: dict[str, Any] = field(default_factory=dict)
    """Range data over the drill's window (``gameday.report.capture``): what its plot and review are drawn from."""
    plot: str | None = None
    """The drill's PNG, when one was drawn."""
    shadow: dict[str, Any] = field(default_factory=dict)
    """A shadow exercise's debrief (``gameday.shadow.debrief.debrief``); empty for a drill the harness recovered."""
    _threads_at: dict[int, dict[int, tuple[str, float]]] = field(default_factory=dict, repr=False)
    """Per open phase (by its index in ``phases``), each thread's CPU when it started."""
    trend_plot: str | None = None
    """TTD, TTN and MTTR over the scenario's recent drills, as a PNG, when there were earlier drills."""
    timer_lag: dict[str, Any] = field(default_factory=dict)
    """How late the harness's timers ran while the fault was in (``gameday.observe.timerlag``): its
    timestamps' error."""
    pages_refused: list[dict[str, Any]] = field(default_factory=list)
    """Pages that did not count: refused by the receiver (no secret), or not backed by Prometheus and
    Alertmanager (``gameday.observe.provenance``)."""
    cautions: list[str] = field(default_factory=list)
    """What a reader of the verdict must know: refused pages, a page earlier than the pipeline's floor, a team's
    server whose TLS certificate the harness did not check."""
    pages: dict[str, Any] = field(default_factory=dict)
    """How far the drill proved its pages (``level``: routed, attempted or delivered) and by what (``how``)."""
    path: Path | None = None

    @property
    def timings(self) -> Timings:
        return Timings.from_marks(self.marks)

    @property
    def sla(self) -> float | None:
        """The detection SLA of the first expected alert (the one the timings are of)."""
        return next((v for k, v in self.goals.items() if k.startswith("sla:")), None)

    @property
    def expected(self) -> list[str]:
        """The expected alerts, in the scenario's order."""
        return [k.removeprefix("sla:") for k in self.goals if k.startswith("sla:")]

    @property
    def primary(self) -> str | None:
        """The first expected alert: its marks are also the drill's own (``marks``, ``timings``)."""
        return next(iter(self.expected), None)

    def timings_of(self, alert: str) -> Timings:
        """One expected alert's timings: the drill's shared marks with that alert's own."""
        shared = self.marks if alert == self.primary else {k: v for k, v in self.marks.items() if k not in PER_ALERT}
        return Timings.from_marks({**shared, **self.alert_marks.get(alert, {})})

    def alert_summary(self, alert: str) -> dict[str, Any]:
        t = self.timings_of(alert)
        sla = self.goals.get(f"sla:{alert}")
        return {"receiver": self.receivers.get(alert), "sla": sla, "marks": self.alert_marks.get(alert, {}),
                "timings": t.as_dict(), "timings_real": {k: self.real(v) for k, v in t.as_dict().items()},
                "sla_met": None if t.ttn is None or sla is None else t.ttn <= sla,
                "expected_ttn": self.floors.get(f"expected_ttn:{alert}")}

    def real(self, seconds: float | None) -> float | None:
        """A drill-clock duration in real-time equivalent (times the time scale)."""
        return None if seconds is None else seconds * self.time_scale

    # event listeners: the journal is a subscriber like the console and the report
    def on_phase_started(self, phase: str, t: float, **_: Any) -> None:
        self._threads_at[len(self.phases)] = thread_cpu()
        self.phases.append({"phase": phase, "start": t, "end": None, "error": None, "cpu": time.process_time()})
        self.events.append({"t": t, "event": "phase_started", "phase": phase})

    def on_phase_ended(self, phase: str, t: float, error: BaseException | None = None, **_: Any) -> None:
        text = None if error is None else f"{type(error).__name__}: {error}"
        for i, p in reversed(list(enumerate(self.phases))):
            if p["phase"] == phase and p["end"] is None:
                p["end"], p["error"] = t, text
                cpu = time.process_time() - p["cpu"]
                p["cpu"] = round(cpu, 4)
                p["cpu_share"] = round(cpu / (t - p["start"]), 4) if t > p["start"] else None
                """the harness process's CPU during the phase, as a share of one core"""
                p["cpu_threads"] = cpu_split(self._threads_at.pop(i, {}), thread_cpu(), cpu)
                """that CPU by thread (seconds): where a phase's cost comes from"""
                break
        self.events.append({"t": t, "event": "phase_ended", "phase": phase, "error": text})

    def on_marked(self, name: str, t: float, detail: str = "", alert: str | None = None, **_: Any) -> None:
        if alert is not None:
            self.alert_marks.setdefault(alert, {})[name] = t
        if alert is None or alert == self.primary or self.primary is None:
            self.marks[name] = t
        self.events.append({"t": t, "event": "mark", "name": name, "detail": detail}
                           | ({"alert": alert} if alert is not None else {}))

    def on_noted(self, phase: str, t: float, note: str, **_: Any) -> None:
        self.events.append({"t": t, "event": "note", "phase": phase, "note": note})

    def as_dict(self) -> dict[str, Any]:
        timings = self.timings.as_dict()
        return {
            "schema": SCHEMA,
            "run": self.run_id,
            "scenario": self.scenario_id, "title": self.title, "priority": self.priority, "runbook": self.runbook,
            "time_scale": self.time_scale, "started": self.clock.iso(0.0), "verdict": Verdict(self.verdict).value,
            "reasons": self.reasons, "goals": self.goals, "floors": self.floors,
            "alert_groups": self.alert_groups, "error_budget": self.error_budget,
            "timings": timings,
            "timings_real": {k: self.real(v) for k, v in timings.items()},
            "alerts": {a: self.alert_summary(a) for a in self.expected},
            "marks": {k: {"t": v, "wall": self.clock.iso(v)}
                      for k, v in sorted(self.marks.items(), key=lambda x: x[1])},
            "phases": self.phases, "events": self.events, "fault": self.fault, "timer_lag": self.timer_lag,
            "load": self.load, "stack": self.stack, "series": self.series, "plot": self.plot, "trends": self.trends,
            "trend_plot": self.trend_plot, "shadow": self.shadow,
            "notifications": self.notifications, "pages_refused": self.pages_refused, "cautions": self.cautions,
            "pages": self.pages,
        }

    @classmethod
    def from_journal(cls, path: Path) -> DrillRecord:
        """The record a journal was written from, read back: what reports and the summary table use of it.

        ``ValueError`` for a file that is not a journal of this schema.
        """
        from datetime import datetime

        j = json.loads(path.read_text())
        if not isinstance(j, dict) or j.get("schema") != SCHEMA:
            raise ValueError(f"{path}: not a gameday journal of schema {SCHEMA}")
        clock = Clock()
        clock.anchor_wall = datetime.fromisoformat(j["started"]).timestamp()
        alerts = j.get("alerts") or {}
        rec = cls(scenario_id=j["scenario"], title=j["title"], priority=j["priority"], runbook=j["runbook"],
                  time_scale=j["time_scale"], clock=clock, goals=j["goals"], floors=j["floors"],
                  marks={k: v["t"] for k, v in j["marks"].items()},
                  alert_marks={a: dict(s.get("marks") or {}) for a, s in alerts.items()},
                  receivers={a: s["receiver"] for a, s in alerts.items() if s.get("receiver") is not None},
                  verdict=Verdict(j["verdict"]), reasons=list(j["reasons"]), run_id=j.get("run", ""), path=path)
        for name in ("phases", "events", "alert_groups", "error_budget", "notifications", "load", "fault", "trends",
                     "stack", "series", "plot", "shadow", "trend_plot", "timer_lag", "pages_refused", "cautions",
                     "pages"):
            setattr(rec, name, j.get(name, getattr(rec, name)))
        return rec

    def file_stem(self) -> str:
        """``<scenario>-<start time>``: the journal's name, and its plot's."""
        stamp = self.clock.iso(0.0).replace(":", "").replace("-", "").split("+")[0]  # ms: repeats stay apart
        return f"{self.scenario_id}-{stamp}"

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{self.file_stem()}.json"
        self.path.write_text(json.dumps(self.as_dict(), indent=2, default=str))
        return self.path


def thread_cpu() -> dict[int, tuple[str, float]]:
    """Each live thread's own CPU time so far (seconds), by thread id, with its name."""
    out = {}
    for th in threading.enumerate():
        if th.ident is None:
            continue
        try:
            out[th.ident] = (th.name, time.clock_gettime(time.pthread_getcpuclockid(th.ident)))
        except (OSError, AttributeError):  # a thread that just ended, or a platform without per-thread clocks
            continue
    return out


def cpu_split(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
              total: float) -> dict[str, float]:
    """A phase's process CPU by thread name, from two ``thread_cpu`` readings; what no live thread accounts
    for (threads that started and ended within the phase) is ``other``. Names that share a prefix before a
    dash add up (``supervise-gateway`` stays itself; ``watchdog-<id>`` is ``watchdog``)."""
    split: dict[str, float] = {}
    for ident, (name, cpu) in after.items():
        used = cpu - before.get(ident, (name, 0.0))[1]
        key = "watchdog" if name.startswith("watchdog-") else name
        split[key] = split.get(key, 0.0) + used
    split["other"] = total - sum(split.values())
    return {k: round(v, 4) for k, v in sorted(split.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.0005}

