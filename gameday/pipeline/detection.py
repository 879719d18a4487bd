"""How long a rate-window rule needs to cross its threshold, from the fault's intensity.

The pipeline floor (``timing.py``) counts the rule's ``for``, the evaluations and Alertmanager's
waits; it takes the expression as crossing its threshold at once. A ratio over a window does not:
at an error share ``f`` the error ratio over ``w`` climbs as the window fills with failing requests.
With a window full of healthy history it passes ``θ`` after ``θ·w/f``; with only ``h < w`` of
history (a lab that just started) after ``θ·h/(f − θ)``; and never when ``f ≤ θ``. A latency
quantile with every request delayed by ``d > θ`` passes ``θ`` once more than ``1 − q`` of the window
is slow: ``(1 − q)·w`` with a full window.

Known shapes, found by parsing the rule (recording rules are followed): ``A / B > θ`` with
``rate(...[w])`` on both sides (an error ratio), ``histogram_quantile(q, ... rate(...[w])) > θ``,
and conditions joined by ``and`` (multi-window burn rates: all must hold). Other rules are not
estimated. Constant traffic is assumed, so the figure is an expectation, reported beside the
measured time; only an intensity at which a ratio cannot be expected to pass its threshold at all
is refused before the fault.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import promql_parser

from gameday.core.durations import human
from gameday.pipeline.timescale import durations_in

ARITHMETIC = {"*": lambda a, b: a * b, "/": lambda a, b: a / b, "+": lambda a, b: a + b, "-": lambda a, b: a - b}


@dataclass(frozen=True)
class Condition:
    kind: str
    """``ratio`` (a share of failing requests) or ``quantile`` (a latency quantile)."""
    window: float
    """Seconds, as the rule runs (time-scaled on a stack the harness owns)."""
    threshold: float
    job: str | None = None
    """The ``job`` its series come from, when the selector names one: its scrape history bounds the window."""
    quantile: float | None = None
    expr: str = ""
    """The expression compared with the threshold (its value now is where the window starts from)."""

    def describe(self) -> str:
        if self.kind == "ratio":
            return f"the {human(self.window)} error ratio > {self.threshold:.4g}"
        return f"the {human(self.window)} p{self.quantile * 100:g} latency > {human(self.threshold)}"


@dataclass(frozen=True)
class Intensity:
    """What the fault does to the requests a rule counts."""

    error_share: float | None = None
    """Share of requests that fail (0..1)."""
    added_latency: float | None = None
    """Seconds added to every request."""

    def describe(self) -> str:
        if self.error_share is not None:
            return f"{self.error_share * 100:.3g}% of requests failing"
        return f"{human(self.added_latency)} added to every request"


def intensity_of(fault: Any, dependency: str = "model-backend") -> Intensity | None:
    """The intensity of a scenario's fault, where it has one the estimate understands."""
    if fault.kind == "request-failures":
        return Intensity(error_share=fault.percent / 100)
    if fault.kind == "stop-service" and fault.target == dependency:
        return Intensity(error_share=1.0)  # every request that needs the dependency fails
    if fault.kind == "latency":
        return Intensity(added_latency=fault.delay)
    return None


def _op(node: Any) -> str:
    return str(getattr(node, "op", "")).strip().lower()


def _unparen(node: Any) -> Any:
    while type(node).__name__ == "ParenExpr":
        node = node.expr
    return node


def _const(node: Any) -> float | None:
    node = _unparen(node)
    kind = type(node).__name__
    if kind == "NumberLiteral":
        return float(node.val)
    if kind == "BinaryExpr" and _op(node) in ARITHMETIC:
        a, b = _const(node.lhs), _const(node.rhs)
        return None if a is None or b is None else ARITHMETIC[_op(node)](a, b)
    return None


def _job(node: Any) -> str | None:
    """The ``job="..."`` matcher of the first selector under ``node``."""
    text = str(node)
    marker = 'job="'
    if marker in text:
        return text.split(marker, 1)[1].split('"', 1)[0]
    return None


def _shape(node: Any, recording: dict[str, str], depth: int = 0) -> tuple[str, float, str | None, float | None] | None:
    node = _unparen(node)
    kind = type(node).__name__
    if kind == "VectorSelector" and node.name in recording and depth < 5:
        return _shape(promql_parser.parse(recording[node.name]), recording, depth + 1)
    windows = {ms / 1000 for ms in durations_in(str(node))}
    if len(windows) != 1 or "rate(" not in str(node):
        return None
    (window,) = windows
    if kind == "BinaryExpr" and _op(node) == "/":
        return "ratio", window, _job(node), None
    if kind == "Call" and getattr(node.func, "name", "") == "histogram_quantile":
        q = _const(node.args[0])
        return None if q is None else ("quantile", window, _job(node), q)
    return None


def conditions(expr: str, recording: dict[str, str]) -> list[Condition] | None:
    """Every condition that must hold for the rule to fire, or None when the rule has a shape not known here."""

    def walk(node: Any) -> list[Condition] | None:
        node = _unparen(node)
        if type(node).__name__ != "BinaryExpr":
            return None
        if _op(node) == "and":
            left, right = walk(node.lhs), walk(node.rhs)
            return None if left is None or right is None else left + right
        if _op(node) in (">", ">="):
            threshold, shape = _const(node.rhs), _shape(node.lhs, recording)
            if threshold is None or shape is None:
                return None
            kind, window, job, q = shape
            return [Condition(kind, window, threshold, job, q, str(_unparen(node.lhs)))]
        return None

    try:
        return walk(promql_parser.parse(expr))
    except (ValueError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class Window:
    """What a condition's window holds at the fault: seconds of history, and its ratio now (earlier errors)."""

    history: float
    ratio: float = 0.0


def crossing(cond: Condition, intensity: Intensity, window: Window | None = None) -> float | None:
    """Seconds from the fault until ``cond`` holds, from what its window holds (None: a full window of healthy
    traffic); ``math.inf`` when it cannot be expected to hold; None when not estimated."""
    h = cond.window if window is None else max(0.0, min(window.history, cond.window))
    if cond.kind == "ratio":
        f, r0, theta = intensity.error_share, (window.ratio if window else 0.0), cond.threshold
        if f is None:
            return None
        if f <= theta:
            return math.inf
        if r0 >= theta:
            return 0.0  # earlier errors still hold it above the threshold
        t = (theta - r0) * h / (f - theta)  # the window still growing: (r0·h + f·t) / (h + t) = θ
        if t <= cond.window - h:
            return t
        return (theta - r0) * cond.window / (f - r0)  # a full window: (r0·(w − t) + f·t) / w = θ
    d = intensity.added_latency
    if d is None or cond.quantile is None:
        return None
    if d <= cond.threshold:
        return None  # the service's own latency may make up the rest: not estimated
    slow = 1 - cond.quantile  # the share of the window that must be slow
    t = slow * h / (1 - slow)
    t = t if t <= cond.window - h else slow * cond.window
    return t + d  # a slow request is counted when it ends, ``d`` after it began


def windows(prometheus: Any, conds: list[Condition], scrape_interval: float) -> dict[Condition, Window]:
    """What each condition's window holds now: its job's scrape history (a lab that just started has little)
    and, for a ratio, its value now (errors of an earlier incident may still be in it)."""
    out: dict[Condition, Window] = {}
    for cond in conds:
        held = cond.window
        if cond.job is not None:
            rows = prometheus.query(f'count_over_time(up{{job="{cond.job}"}}[{round(cond.window * 1000)}ms])')
            held = min(cond.window, float(rows[0]["value"][1]) * scrape_interval) if rows else 0.0
        ratio = 0.0
        if cond.kind == "ratio" and cond.expr and (rows := prometheus.query(cond.expr)):
            value = float(rows[0]["value"][1])
            ratio = value if math.isfinite(value) else 0.0
        out[cond] = Window(held, ratio)
    return out


@dataclass(frozen=True)
class Estimate:
    lag: float | None
    """Seconds until every condition holds (math.inf: never expected); None when not estimated."""
    why: str

    @property
    def never(self) -> bool:
        return self.lag is not None and math.isinf(self.lag)


def estimate(conds: list[Condition] | None, intensity: Intensity | None,
             held: dict[Condition, Window] | None = None) -> Estimate:
    """How long the slowest condition needs; ``held`` says what each window holds (default: full and healthy)."""
    if conds is None or intensity is None:
        return Estimate(None, "not estimated: the rule or the fault has a shape the estimate does not know")
    lags = []
    for cond in conds:
        lag = crossing(cond, intensity, (held or {}).get(cond))
        if lag is None:
            return Estimate(None, f"not estimated for {cond.describe()} at {intensity.describe()}")
        if math.isinf(lag):
            share = intensity.error_share or 0.0
            return Estimate(math.inf, f"at {intensity.describe()} {cond.describe()} averages {share:.4g}, "
                                      f"not above its threshold: the alert cannot be expected to fire")
        lags.append((lag, cond))
    lag, slowest = max(lags, key=lambda x: x[0])
    return Estimate(lag, f"{slowest.describe()} expected after {human(lag)} at {intensity.describe()}")
