"""Which Alertmanager route an alert's labels take, and that route's timers (inherited as Alertmanager does)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gameday.core.durations import parse_ms

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
DEFAULTS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}


@dataclass(frozen=True)
class RouteMatch:
    receivers: list[str]
    group_wait: float
    group_interval: float
    group_by: tuple[str, ...] | None = ()
    """Labels that make the group; None for ``...`` (every label)."""


def _matches(route: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (route.get("match") or {}).items():
        if labels.get(key, "") != str(value):
            return False
    for key, value in (route.get("match_re") or {}).items():
        if not re.fullmatch(str(value), labels.get(key, "")):
            return False
    for text in route.get("matchers") or []:
        m = _MATCHER.match(text)
        if not m:
            continue
        name, op, value = m.groups()
        got = labels.get(name, "")
        ok = {"=": got == value, "!=": got != value, "=~": bool(re.fullmatch(value, got)),
              "!~": not re.fullmatch(value, got)}[op]
        if not ok:
            return False
    return True


def route_for(config: dict[str, Any], labels: dict[str, str]) -> RouteMatch:
    """The receivers an alert with ``labels`` reaches, and the timers of the route that took it."""
    found: list[tuple[str, dict[str, str]]] = []

    def walk(route: dict[str, Any], inherited: dict[str, str]) -> bool:
        timers = {k: str(route.get(k, inherited[k])) for k in DEFAULTS}
        receiver = route.get("receiver", inherited.get("receiver", ""))
        group_by = route.get("group_by", inherited.get("group_by", []))
        matched_child = False
        for child in route.get("routes") or []:
            if _matches(child, labels) and walk(child, {**timers, "receiver": receiver, "group_by": group_by}):
                matched_child = True
                if not child.get("continue", False):
                    break
        if not matched_child:
            found.append((receiver, {**timers, "group_by": group_by}))
        return True

    root = config.get("route") or {}
    walk(root, {**DEFAULTS, "receiver": root.get("receiver", ""), "group_by": []})
    first = found[0][1]
    group_by = None if "..." in (first["group_by"] or []) else tuple(first["group_by"] or ())
    return RouteMatch([r for r, _ in found], parse_ms(first["group_wait"]) / 1000,
                      parse_ms(first["group_interval"]) / 1000, group_by)
