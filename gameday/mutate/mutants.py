"""The mutants of a monitoring config: each one small change to one alerting rule or one Alertmanager route,
made on a copy of the config folder, never on the folder itself.

Rules (``prometheus/rules/*.yml``): the threshold multiplied or divided by ten, the comparison flipped, ``for``
lengthened past the longest SLA of the drills that expect the alert, a label matcher removed or its value
misspelled, the ``severity`` label changed or dropped, every range window ten times longer, a label taken out of
the aggregation's ``by``, the expression replaced by one that never fires.

Routes (``alertmanager/alertmanager.yml``, each child route of the tree): its receiver swapped for another, its
matcher's value misspelled, ``continue`` toggled, the route muted by a time interval that is always on,
``group_wait`` raised past the SLA, its receiver's URL broken.

A mutant knows what it touched (the alert, or the route's receiver and the alerts that take it), so the drills
that cover it are known, and a drill's FAIL can be told to be for the mutant's reason.
"""

from __future__ import annotations

import copy
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gameday.core.durations import seconds

NUMBER = r"[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?"
COMPARISON = re.compile(rf"(?<![=!<>])(==|!=|>=|<=|>|<)(\s*)({NUMBER})\s*$")
CONSTANT = re.compile(rf"(?<![=!<>])(==|!=|>=|<=|>|<)(\s*)(\(\s*{NUMBER}(?:\s*[*/]\s*{NUMBER})*\s*\))\s*$")
"""A threshold written as a product in parentheses, as burn-rate rules write theirs: ``> (14.4 * 0.005)``."""
FLIP = {">": "<=", "<": ">=", ">=": "<", "<=": ">", "==": "!=", "!=": "=="}
SELECTOR = re.compile(r"\{([^{}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
WINDOW = re.compile(r"\[([0-9]+)(ms|s|m|h|d)\]")
BY = re.compile(r"\bby\s*\(([^()]*)\)")
NEVER = "vector(0) > 1"


@dataclass
class Mutant:
    """One change to the config. ``rules`` / ``routes``: the rule file and rule index, or the route's path in the
    tree; ``alerts``: the alerts whose drills cover it."""

    id: str
    part: str
    """``rule`` or ``route``"""
    operator: str
    where: str
    """The file and place, as ``gameday check`` names it."""
    before: str
    after: str
    alerts: list[str]
    change: Any = field(repr=False, default=None)
    """(config folder copy) -> None: makes the change in the copy."""
    delay: float = 0.0
    """Seconds the change delays the page, where it delays it (``for``, ``group_wait``): what an SLA must be
    tighter than to catch it."""
    gated: bool = False
    """The changed comparison is the last side of an ``and``: the other side, unchanged, still decides too."""

    @property
    def diff(self) -> str:
        return f"{self.where}: {self.before} -> {self.after}"

    def apply(self, source: Path, dest: Path) -> Path:
        """A copy of the config folder ``source`` at ``dest`` with this one change; ``dest``."""
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest)
        self.change(dest)
        return dest


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _rule_change(rel: Path, gi: int, ri: int, edit: Any) -> Any:
    def change(folder: Path) -> None:
        path = folder / rel
        doc = yaml.safe_load(path.read_text())
        edit(doc["groups"][gi]["rules"][ri])
        path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    return change


def _rule_files(config_dir: Path) -> list[Path]:
    rules_dir = config_dir / "prometheus" / "rules"
    return sorted([*rules_dir.glob("*.yml"), *rules_dir.glob("*.yaml")])


def alert_labels(config_dir: Path) -> dict[str, dict[str, str]]:
    """Each alerting rule's labels, by its alert's name."""
    out = {}
    for path in _rule_files(config_dir):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    out[str(rule["alert"])] = {k: str(v) for k, v in (rule.get("labels") or {}).items()}
    return out


def rule_mutants(config_dir: Path, slas: dict[str, float]) -> list[Mutant]:
    """Every mutant of every alerting rule under ``config_dir/prometheus/rules``; ``slas``: each alert's longest
    SLA among the drills that expect it (seconds, unscaled), for ``for`` past it."""
    out: list[Mutant] = []
    for path in _rule_files(config_dir):
        rel = path.relative_to(config_dir)
        doc = yaml.safe_load(path.read_text()) or {}
        for gi, group in enumerate(doc.get("groups") or []):
            for ri, rule in enumerate(group.get("rules") or []):
                if "alert" in rule:
                    out += _of_rule(rel, gi, ri, rule, slas.get(str(rule["alert"])))
    return out


def _of_rule(rel: Path, gi: int, ri: int, rule: dict[str, Any], sla: float | None) -> list[Mutant]:
    name, expr = str(rule["alert"]), str(rule["expr"]).strip()
    where = f"{rel}: {name}"
    found: list[tuple[str, str, str, Any, float]] = []  # operator, before, after, edit, delay

    def expr_to(new: str) -> Any:
        return lambda r: r.__setitem__("expr", new)

    if m := COMPARISON.search(expr):
        op, space, num = m.groups()
        value = float(num)
        for label, new in (("threshold x10", value * 10 if value else 1.0), ("threshold /10", value / 10)):
            if new == value:
                continue
            text = f"{new:g}"
            found.append((label, f"{op} {num}", f"{op} {text}", expr_to(expr[:m.start(3)] + text + expr[m.end(3):]),
                          0.0))
    elif m := CONSTANT.search(expr):
        op, space, num = m.groups()
        for label, text in (("threshold x10", f"{num[:-1].rstrip()} * 10)"), ("threshold /10",
                                                                             f"{num[:-1].rstrip()} / 10)")):
            found.append((label, f"{op} {num}", f"{op} {text}", expr_to(expr[:m.start(3)] + text + expr[m.end(3):]),
                          0.0))
    if m:
        op = m.group(1)
        found.append(("comparison flipped", op, FLIP[op],
                      expr_to(expr[:m.start(1)] + FLIP[op] + expr[m.end(1):]), 0.0))
    for_s = seconds(str(rule.get("for", "0s")))
    if sla is not None:
        longer = max(for_s, sla) * 2 + 60
        found.append(("for past the SLA", f"for: {rule.get('for', '0s')}", f"for: {longer:.0f}s",
                      lambda r, v=f"{longer:.0f}s": r.__setitem__("for", v), longer - for_s))
    if sel := SELECTOR.search(expr):
        matchers = list(MATCHER.finditer(sel.group(1)))
        if matchers:
            first = matchers[0]
            rest = [m.group(0) for m in matchers[1:]]
            body = sel.group(1)
            removed = ", ".join(rest)
            found.append(("matcher removed", "{" + _one_line(body) + "}", "{" + removed + "}",
                          expr_to(expr[:sel.start(1)] + removed + expr[sel.end(1):]), 0.0))
            if first.group(2) in ("=", "=~"):
                bad = first.group(0)[:-1] + "x" + '"'
                found.append(("matcher misspelled", first.group(0), bad,
                              expr_to(expr.replace(first.group(0), bad)), 0.0))
    labels = rule.get("labels") or {}
    if "severity" in labels:
        sev = str(labels["severity"])
        other = "info" if sev != "info" else "warning"
        found.append(("severity changed", f"severity: {sev}", f"severity: {other}",
                      lambda r, o=other: r["labels"].__setitem__("severity", o), 0.0))
        found.append(("severity dropped", f"severity: {sev}", "(no severity)",
                      lambda r: r["labels"].pop("severity"), 0.0))
    if WINDOW.search(expr):
        longer_expr = WINDOW.sub(lambda w: f"[{int(w.group(1)) * 10}{w.group(2)}]", expr)
        first = WINDOW.search(expr)
        assert first is not None
        found.append(("range windows x10", first.group(0), f"[{int(first.group(1)) * 10}{first.group(2)}]",
                      expr_to(longer_expr), 0.0))
    if (by := BY.search(expr)) and by.group(1).strip():
        names = [n.strip() for n in by.group(1).split(",") if n.strip()]
        kept = ", ".join(names[:-1])
        found.append(("aggregation by changed", f"by ({', '.join(names)})", f"by ({kept})",
                      expr_to(expr[:by.start(1)] + kept + expr[by.end(1):]), 0.0))
    found.append(("never fires", _one_line(expr)[:60], NEVER, expr_to(NEVER), 0.0))
    gated = bool(re.search(r"\b(and|unless)\b", expr))
    comparison = ("threshold x10", "threshold /10", "comparison flipped")
    return [Mutant(f"{name}:{op.replace(' ', '-').replace('/', 'div')}", "rule", op, where, before, after, [name],
                   _rule_change(rel, gi, ri, edit), delay, gated=gated and op in comparison)
            for op, before, after, edit, delay in found]


def _routes(route: dict[str, Any], path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
    out = []
    for i, child in enumerate(route.get("routes") or []):
        out.append(((*path, i), child))
        out += _routes(child, (*path, i))
    return out


def _route_at(doc: dict[str, Any], path: tuple[int, ...]) -> dict[str, Any]:
    route = doc["route"]
    for i in path:
        route = route["routes"][i]
    return route


def route_mutants(config_dir: Path, alerts_of: Any, slas: dict[str, float]) -> list[Mutant]:
    """Every mutant of every child route in ``config_dir/alertmanager/alertmanager.yml``. ``alerts_of(path)``:
    the alerts whose labels take the route at ``path`` (from the rules)."""
    rel = Path("alertmanager") / "alertmanager.yml"
    text = (config_dir / rel).read_text()
    doc = yaml.safe_load(text)
    receivers = [r["name"] for r in doc.get("receivers") or []]
    out: list[Mutant] = []
    for path, route in _routes(doc["route"]):
        alerts = alerts_of(path)
        receiver = str(route.get("receiver", ""))
        where = f"{rel}: route {'.'.join(map(str, path))} ({receiver})"
        found: list[tuple[str, str, str, Any, float]] = []
        others = [r for r in receivers if r != receiver]
        if others:
            found.append(("receiver swapped", f"receiver: {receiver}", f"receiver: {others[0]}",
                          lambda d, p=path, o=others[0]: _route_at(d, p).__setitem__("receiver", o), 0.0))
        matchers = list(route.get("matchers") or [])
        if matchers and (m := re.match(r'^(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*=~?\s*"?)(.*?)("?\s*)$', matchers[0])):
            bad = m.group(1) + m.group(2) + "x" + m.group(3)
            found.append(("matcher changed", matchers[0], bad,
                          lambda d, p=path, b=bad: _route_at(d, p)["matchers"].__setitem__(0, b), 0.0))
        cont = bool(route.get("continue", False))
        found.append(("continue toggled", f"continue: {str(cont).lower()}", f"continue: {str(not cont).lower()}",
                      lambda d, p=path, c=cont: _route_at(d, p).__setitem__("continue", not c), 0.0))
        found.append(("route muted", "(not muted)", "mute_time_intervals: [gameday-always]",
                      lambda d, p=path: _mute(d, p), 0.0))
        sla = max((slas[a] for a in alerts if a in slas), default=None)
        if sla is not None:
            wait = sla * 2 + 60
            found.append(("group_wait past the SLA", f"group_wait: {route.get('group_wait', '(inherited)')}",
                          f"group_wait: {wait:.0f}s",
                          lambda d, p=path, w=f"{wait:.0f}s": _route_at(d, p).__setitem__("group_wait", w), wait))
        if receiver in receivers:
            found.append(("receiver URL broken", f"{receiver}'s url", f"{receiver}'s url + /broken",
                          lambda d, r=receiver: _break_url(d, r), 0.0))
        for op, before, after, edit, delay in found:
            def change(folder: Path, edit: Any = edit) -> None:
                target = folder / rel
                mutated = copy.deepcopy(yaml.safe_load(target.read_text()))
                edit(mutated)
                target.write_text(yaml.safe_dump(mutated, sort_keys=False, width=1000))
            out.append(Mutant(f"route-{'.'.join(map(str, path))}:{op.replace(' ', '-')}", "route", op, where,
                              before, after, list(alerts), change, delay))
    return out


def _mute(doc: dict[str, Any], path: tuple[int, ...]) -> None:
    doc.setdefault("time_intervals", []).append({"name": "gameday-always", "time_intervals": [{}]})
    _route_at(doc, path)["mute_time_intervals"] = ["gameday-always"]


def _break_url(doc: dict[str, Any], receiver: str) -> None:
    for r in doc.get("receivers") or []:
        if r["name"] == receiver:
            for hook in r.get("webhook_configs") or []:
                hook["url"] = str(hook["url"]) + "/broken"


def kills(alerts: list[str], verdict: str, reasons: list[str]) -> bool:
    """Whether a drill's outcome kills a mutant that touched ``alerts``: a FAIL whose reasons name one of them
    (a FAIL for any other reason says nothing of the mutant)."""
    return verdict == "FAIL" and any(a in r for r in reasons for a in alerts)
