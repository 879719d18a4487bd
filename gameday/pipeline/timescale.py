"""Time scale: run the same rules and routes N times faster where the harness owns the config.

Every duration is divided by N: rule ``for``/``keep_firing_for``, PromQL range selectors,
subquery ranges and steps, offsets, scrape and evaluation intervals, Alertmanager timers.
PromQL is rewritten by a small lexer that only touches duration tokens, and the result is
checked by parsing both expressions (``promql_parser``) and comparing every duration.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import promql_parser

from gameday.core.durations import DURATION_RE, format_ms, parse_ms, scale_ms

PROMETHEUS_DURATION_KEYS = ("scrape_interval", "scrape_timeout", "evaluation_interval")
ALERTMANAGER_DURATION_KEYS = ("group_wait", "group_interval", "repeat_interval")


def _scale_token(token: str, factor: float) -> str:
    return format_ms(scale_ms(parse_ms(token), factor))


def _duration_at(expr: str, i: int) -> int:
    m = DURATION_RE.match(expr, i)
    return m.end() if m else i


def scale_promql(expr: str, factor: float) -> str:
    """``expr`` with every range, subquery and offset duration divided by ``factor``."""
    if factor == 1:
        return expr
    out: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "\"'`":  # string literal: copy verbatim
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" and ch != "`" else 1
            out.append(expr[i:j + 1])
            i = j + 1
        elif ch == "#":  # comment to end of line
            j = expr.find("\n", i)
            j = n if j < 0 else j
            out.append(expr[i:j])
            i = j
        elif ch == "{":  # label matchers hold no durations; strings inside handled above
            out.append(ch)
            i += 1
        elif ch == "[":
            j = expr.index("]", i)
            out.append("[" + _scale_bracket(expr[i + 1:j], factor) + "]")
            i = j + 1
        elif expr.startswith("offset", i) and _word_edge(expr, i, i + 6):
            j = i + 6
            while j < n and expr[j].isspace():
                j += 1
            if j < n and expr[j] == "-":
                j += 1
            k = _duration_at(expr, j)
            out.append(expr[i:j] + (_scale_token(expr[j:k], factor) if k > j else ""))
            i = k
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _word_edge(expr: str, start: int, end: int) -> bool:
    before = expr[start - 1] if start else " "
    after = expr[end] if end < len(expr) else " "
    return not (before.isalnum() or before in "_:") and not (after.isalnum() or after in "_:")


def _scale_bracket(inner: str, factor: float) -> str:
    parts = inner.split(":")
    scaled = []
    for part in parts:
        text = part.strip()
        scaled.append(part.replace(text, _scale_token(text, factor)) if text else part)
    return ":".join(scaled)


def durations_in(expr: str) -> list[int]:
    """Every duration in a parsed expression, in milliseconds, in tree order."""
    found: list[int] = []

    def add(value: Any) -> None:
        if isinstance(value, timedelta):
            found.append(round(value.total_seconds() * 1000))

    def walk(node: Any) -> None:
        kind = type(node).__name__
        if kind == "MatrixSelector":
            add(node.range)
        if kind == "SubqueryExpr":
            add(node.range)
            add(node.step)
        if kind in ("VectorSelector", "SubqueryExpr"):
            add(node.offset)
        for name in dir(node):
            if name.startswith("_") or name in ("parse", "prettify"):
                continue
            value = getattr(node, name)
            for child in value if isinstance(value, list) else [value]:
                if hasattr(child, "prettify"):
                    walk(child)

    walk(promql_parser.parse(expr))
    return found


def check_scaled(original: str, scaled: str, factor: float) -> None:
    """Raise ``ValueError`` unless ``scaled`` is ``original`` with every duration divided."""
    before = durations_in(original)
    after = durations_in(scaled)
    want = [_signed_scale(ms, factor) for ms in before]
    if after != want:
        raise ValueError(f"time-scaled expression lost or mangled a duration: {before} -> {after}")


def _signed_scale(ms: int, factor: float) -> int:
    return -scale_ms(-ms, factor) if ms < 0 else scale_ms(ms, factor)


class RuleError(ValueError):
    """A rule that cannot be read or scaled; ``field`` says where (``groups[0].rules[1].expr``)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def scale_rules(doc: dict[str, Any], factor: float) -> dict[str, Any]:
    """A Prometheus rule file with every duration divided by ``factor``; raises ``RuleError``.

    Every expression is parsed, at factor 1 too, so a broken rule is named in its own file.
    """
    out = copy.deepcopy(doc)
    for gi, group in enumerate(out.get("groups") or []):
        if "interval" in group:
            group["interval"] = _scale_field(group["interval"], factor, f"groups[{gi}].interval")
        for ri, rule in enumerate(group.get("rules") or []):
            where = f"groups[{gi}].rules[{ri}]"
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = _scale_field(str(rule[key]), factor, f"{where}.{key}")
            if "expr" not in rule:
                raise RuleError(where, "no expr")
            try:
                scaled = scale_promql(str(rule["expr"]), factor)
                check_scaled(str(rule["expr"]), scaled, factor)
            except ValueError as exc:
                raise RuleError(f"{where}.expr", str(exc)) from None
            rule["expr"] = scaled
    return out


def _scale_field(value: str, factor: float, where: str) -> str:
    try:
        return _scale_token(value, factor)
    except ValueError as exc:
        raise RuleError(where, str(exc)) from None


def scale_prometheus(doc: dict[str, Any], factor: float) -> dict[str, Any]:
    """A Prometheus config with its global and per-job intervals divided by ``factor``."""
    out = copy.deepcopy(doc)
    if factor == 1:
        return out
    for section in [out.get("global", {}), *out.get("scrape_configs", [])]:
        for key in PROMETHEUS_DURATION_KEYS:
            if key in section:
                section[key] = _scale_token(section[key], factor)
    return out


def scale_alertmanager(doc: dict[str, Any], factor: float) -> dict[str, Any]:
    """An Alertmanager config with every route's timers divided by ``factor``."""
    out = copy.deepcopy(doc)
    if factor == 1:
        return out

    def walk(route: dict[str, Any]) -> None:
        for key in ALERTMANAGER_DURATION_KEYS:
            if key in route:
                route[key] = _scale_token(route[key], factor)
        for child in route.get("routes", []):
            walk(child)

    walk(out.get("route", {}))
    if "resolve_timeout" in out.get("global", {}):
        out["global"]["resolve_timeout"] = _scale_token(out["global"]["resolve_timeout"], factor)
    return out
