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


def matches(route: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a route's ``match``, ``match_re`` and ``matchers`` all take an alert with ``labels``."""
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


@dataclass(frozen=True)
class _Step:
    path: tuple[int, ...]
    """Indexes of the child routes from the root; () is the root."""
    settings: dict[str, Any]
    """The receiver, timers and group_by in force there (inherited as Alertmanager does)."""
    leaf: bool
    """No child route took the alert here: it is notified at this route's receiver."""


def _walk(config: dict[str, Any], labels: dict[str, str]) -> list[_Step]:
    """Every route an alert with ``labels`` goes down, in Alertmanager's order (a child that matches without
    ``continue`` ends the search among its siblings)."""
    steps: list[_Step | None] = []

    def walk(route: dict[str, Any], inherited: dict[str, Any], path: tuple[int, ...]) -> None:
        settings = {**{k: str(route.get(k, inherited[k])) for k in DEFAULTS},
                    "receiver": route.get("receiver", inherited.get("receiver", "")),
                    "group_by": route.get("group_by", inherited.get("group_by", []))}
        at = len(steps)
        steps.append(None)
        took = False
        for i, child in enumerate(route.get("routes") or []):
            if matches(child, labels):
                took = True
                walk(child, settings, (*path, i))
                if not child.get("continue", False):
                    break
        steps[at] = _Step(path, settings, leaf=not took)

    root = config.get("route") or {}
    walk(root, {**DEFAULTS, "receiver": root.get("receiver", ""), "group_by": []}, ())
    return [step for step in steps if step is not None]


def matched_paths(config: dict[str, Any], labels: dict[str, str]) -> list[tuple[int, ...]]:
    """The paths of the child routes (not the root) an alert with ``labels`` goes down."""
    return [step.path for step in _walk(config, labels) if step.path]


def route_for(config: dict[str, Any], labels: dict[str, str]) -> RouteMatch:
    """The receivers an alert with ``labels`` reaches, and the timers of the route that took it."""
    found = [step.settings for step in _walk(config, labels) if step.leaf]
    first = found[0]
    group_by = None if "..." in (first["group_by"] or []) else tuple(first["group_by"] or ())
    return RouteMatch([s["receiver"] for s in found], parse_ms(first["group_wait"]) / 1000,
                      parse_ms(first["group_interval"]) / 1000, group_by)
