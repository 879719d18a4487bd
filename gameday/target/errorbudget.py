"""The error-budget gate: before a drill spends a real stack's error budget, read what is left and apply the policy.

Each SLO in ``config/slo.yaml`` names two PromQL expressions over its window, the errors and the total
(``$window`` stands for the window). The share of the budget left is ``1 - (errors / total) / (1 - objective)``.
The error budget policy then says what may happen:

==========  ==============  ====================================================================
state       budget left     what it allows for a game day
==========  ==============  ====================================================================
healthy     more than 50%   normal operations: the drill runs
warning     30% to 50%      elevated caution: the drill runs, and its journal flags the budget
critical    10% to 30%      partial freeze (critical fixes only): no drill
emergency   under 10%       full freeze (VP approval): no drill
unknown     cannot be read  the gate fails closed: no drill
==========  ==============  ====================================================================

A forbidden drill is SKIPPED with the reason. ``--error-budget-override REASON`` runs it anyway and the
reason goes into the journal and the report. The gate applies to targets the run did not create (a
stack that was already up); ``--error-budget-gate always`` applies it to the lab and fresh stacks too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gameday.core.durations import parse_ms
from gameday.core.errors import StackUnreachable

POLICY = (  # (state, least share of the budget left, what it allows), from the error budget policy
    ("healthy", 0.50, "normal operations: the drill runs"),
    ("warning", 0.30, "elevated caution: the drill runs, and its journal flags the budget for review"),
    ("critical", 0.10, "partial freeze, critical fixes only: no game-day drill"),
    ("emergency", -math.inf, "full freeze, VP approval needed: no game-day drill"),
)
UNKNOWN = "unknown"
ALLOWS = {UNKNOWN: "the budget cannot be read, and the gate fails closed: no game-day drill",
          **{state: text for state, _, text in POLICY}}
RUNS = ("healthy", "warning")
SEVERITY = {"healthy": 0, "warning": 1, "critical": 2, "emergency": 3, UNKNOWN: 4}
MAX_WINDOW = 400 * 86_400.0


class Slo(BaseModel):
    """One service level objective, as the gate reads it from Prometheus."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    objective: float = Field(gt=0, lt=100)
    """Percent of requests that must be good, e.g. 99.5."""
    window: str = Field(pattern=r"^[0-9]+[smhdw]$", max_length=12)
    """The SLO window as PromQL writes it (``30d``); not time-scaled: the budget is the real stack's."""
    errors: str = Field(min_length=1, max_length=2000)
    total: str = Field(min_length=1, max_length=2000)

    @field_validator("objective", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("expected a percentage such as 99.5")
        return value

    @field_validator("window")
    @classmethod
    def _bounded(cls, value: str) -> str:
        if not 0 < parse_ms(value) / 1000 <= MAX_WINDOW:
            raise ValueError("must be longer than zero and at most 400d")
        return value

    def expr(self, which: str) -> str:
        return getattr(self, which).replace("$window", self.window)

    def describe(self) -> str:
        return f"{self.name} ({self.objective:g}% over {self.window})"


class _SloFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    slos: list[Slo] = Field(default_factory=list, max_length=50)


def load_slos(path: Path) -> list[Slo]:
    """The SLOs of ``path``; a missing file is no SLO; an invalid one is one line naming file and field."""
    from gameday.scenario.files import load_config

    return list(load_config(path, _SloFile, "an SLO file", default={}).slos) if path.exists() else []


def state_of(left: float) -> str:
    """The policy's state for a share of the budget left (1.0 = untouched; below 0 = overspent)."""
    if left > POLICY[0][1]:  # healthy is "more than 50%"; the others include their lower bound
        return "healthy"
    return next(state for state, least, _ in POLICY[1:] if left >= least)


@dataclass(frozen=True)
class BudgetReading:
    slo: str
    state: str
    left: float | None
    """Share of the budget left; None when it cannot be read."""
    detail: str

    def describe(self) -> str:
        left = "cannot be read" if self.left is None else f"{self.left:.1%} left"
        return f"{self.slo}: {left} ({self.detail})"

    def as_dict(self) -> dict[str, Any]:
        return {"slo": self.slo, "state": self.state, "left": self.left, "detail": self.detail}


def _value(prometheus: Any, expr: str) -> tuple[float | None, str]:
    try:
        rows = prometheus.query(expr)
    except StackUnreachable as exc:
        return None, f"the query failed: {exc}"
    if not rows:
        return None, f"{expr} returned no data"
    if len(rows) > 1:
        return None, f"{expr} returned {len(rows)} series, not one (aggregate it with sum())"
    row = rows[0]
    sample = row.get("value") if isinstance(row, dict) else None
    try:
        if not (isinstance(sample, list) and len(sample) == 2 and isinstance(sample[1], str)):
            raise ValueError
        value = float(sample[1])
    except ValueError:
        shape = "a range of samples" if isinstance(row, dict) and "values" in row else "a scalar or a string"
        return None, f"{expr} returned {shape}, not one series of an instant vector"
    if not math.isfinite(value):
        return None, f"{expr} returned {value}"
    if value < 0:
        return None, f"{expr} returned {value:g}: a count of requests is never negative"
    return value, ""


def read_budget(prometheus: Any, slo: Slo) -> BudgetReading:
    """What is left of ``slo``'s budget now, from Prometheus; ``unknown`` with the reason when it cannot be told."""
    errors, why = _value(prometheus, slo.expr("errors"))
    if errors is None:
        return BudgetReading(slo.describe(), UNKNOWN, None, f"errors: {why}")
    total, why = _value(prometheus, slo.expr("total"))
    if total is None:
        return BudgetReading(slo.describe(), UNKNOWN, None, f"total: {why}")
    if total <= 0:
        return BudgetReading(slo.describe(), UNKNOWN, None, f"no requests counted in the last {slo.window}")
    if errors > total:
        return BudgetReading(slo.describe(), UNKNOWN, None, f"{errors:.6g} errors of {total:.6g} requests: more "
                                                            "errors than requests, so one expression is wrong")
    spent = (errors / total) / (1 - slo.objective / 100)
    left = 1 - spent
    return BudgetReading(slo.describe(), state_of(left), left,
                         f"{errors:.6g} of {total:.6g} requests failed in the last {slo.window}: "
                         f"{spent:.1%} of the budget spent")


@dataclass
class Decision:
    """What the gate found and decided, as the journal keeps it."""

    checked: bool
    state: str | None = None
    readings: list[BudgetReading] = field(default_factory=list)
    why: str = ""
    override: str | None = None

    @property
    def forbids(self) -> bool:
        return self.checked and self.state not in RUNS and self.override is None

    def line(self) -> str:
        """One line for the console and the journal."""
        if not self.checked:
            return f"error budget not checked: {self.why}"
        worst = max(self.readings, key=lambda r: SEVERITY[r.state]) if self.readings else None
        text = f"error budget {self.state}: {worst.describe() if worst else self.why}; {ALLOWS[self.state or UNKNOWN]}"
        if self.override is not None and self.state not in RUNS:
            text += f"; overridden on purpose: {self.override}"
        elif self.forbids:
            text += "; to drill anyway, rerun with --error-budget-override REASON"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "state": self.state, "line": self.line(), "why": self.why,
                "override": self.override, "slos": [r.as_dict() for r in self.readings]}


@dataclass(frozen=True)
class ErrorBudgetGate:
    """The gate of one session: its SLOs, when it applies, and the override if one was given."""

    slos: list[Slo]
    source: str
    """Where the SLOs come from (a path), for the messages."""
    always: bool = False
    override: str | None = None

    def decide(self, target: Any) -> Decision:
        whose = (f"the {target.name} target was created by this run" if getattr(target, "created_by_run", False)
                 else f"the {target.name} target is a warm lab (gameday lab up) serving only drills' traffic"
                 if getattr(target, "attached", False) else None)
        if not self.always and whose:
            return Decision(False, why=f"{whose}, so its budget is nobody's (--error-budget-gate always checks it "
                                       "anyway)")
        if not self.slos:
            return Decision(True, UNKNOWN, why=f"no SLO is defined in {self.source}", override=self.override)
        readings = [read_budget(target.prometheus, slo) for slo in self.slos]
        worst = max(readings, key=lambda r: SEVERITY[r.state])
        return Decision(True, worst.state, readings, override=self.override)
