"""Prometheus-style durations: parse, format, scale, and print for humans."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_UNITS_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000,
             "m": 60_000, "s": 1000, "ms": 1}
_ORDER = ["y", "w", "d", "h", "m", "s", "ms"]
_PART = re.compile(r"([0-9]+)(ms|y|w|d|h|m|s)")
DURATION_RE = re.compile(r"(?:[0-9]+(?:ms|y|w|d|h|m|s))+")



def parse_ms(text: str) -> int:
    """Milliseconds in a Prometheus duration such as ``1h30m`` or ``250ms``."""
    text = text.strip()
    if not text or len(text) > 64 or DURATION_RE.fullmatch(text) is None:
        raise ValueError(f"not a duration: {text[:40]!r} (use e.g. 30s, 2m, 1h30m, 250ms)")
    return sum(int(n) * _UNITS_MS[u] for n, u in _PART.findall(text))


def format_ms(ms: int) -> str:
    """A Prometheus duration for a whole number of milliseconds (``2s500ms``)."""
    if ms <= 0:
        return "0s"
    out = []
    for unit in _ORDER:
        if unit in ("y", "w"):
            continue  # weeks and years are legal, but days read better
        n, ms = divmod(ms, _UNITS_MS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def scale_ms(ms: int, factor: float) -> int:
    """``ms`` divided by ``factor``, rounded up, never below 1 ms for a non-zero input."""
    if ms == 0:
        return 0
    return max(1, math.ceil(ms / factor))


def scale_text(text: str, factor: float) -> str:
    """A duration string divided by ``factor``."""
    return format_ms(scale_ms(parse_ms(text), factor))


def seconds(value: float | int | timedelta | str) -> float:
    """Seconds in a number, a timedelta or a duration string."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        return parse_ms(value) / 1000
    return float(value)


def human(value: float | timedelta | None) -> str:
    """A duration for people: ``850ms``, ``12.3s``, ``2m05s``, ``1h02m``."""
    if value is None:
        return "-"
    s = seconds(value)
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 1:
        return f"{sign}{s * 1000:.0f}ms"
    if s < 60:
        return f"{sign}{s:.1f}s"
    if s < 3600:
        m, r = divmod(int(round(s)), 60)
        return f"{sign}{m}m{r:02d}s"
    h, r = divmod(int(round(s)), 3600)
    return f"{sign}{h}h{r // 60:02d}m"
