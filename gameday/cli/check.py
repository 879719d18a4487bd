"""``gameday check``: the catalog as a whole, offline: the config is valid, every alert has a runbook and a drill.

What it checks, each problem as one line (file, field, reason):

- ``promtool check rules`` / ``promtool check config`` and ``amtool check-config`` on the config as the lab
  renders it (time scale 1);
- every alerting rule has a ``runbook_url`` into ``runbooks/``, the file exists and has the sections an
  on-call engineer looks for (triage, investigation, mitigation, resolution, prevention);
- every alerting rule is expected by at least one scenario (the coverage table);
- every scenario is valid, names alerts that exist and receivers its alerts' labels route to, has an SLA
  at or above the pipeline's floor, and has the priority of its most urgent expected alert.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from assertions.sla import assert_feasible
from gameday.core.durations import seconds
from gameday.core.errors import ConfigError, DrillFailed, printable
from gameday.pipeline.routing import route_for
from gameday.pipeline.timing import PipelineTiming
from gameday.scenario.loading import load_catalog
from gameday.scenario.model import PRIORITIES
from gameday.target.monitoring import check_with, load_yaml_template, render_monitoring

RUNBOOK_SECTIONS = ("triage", "investigation", "mitigation", "resolution", "prevention")
RUNBOOKS_TOKEN = "${runbooks}/"


@dataclass(frozen=True)
class AlertRule:
    name: str
    where: str
    """``config/prometheus/rules/inference.yml: groups[0].rules[1]``"""
    for_s: float
    interval_s: float
    labels: dict[str, str]
    runbook_url: str


@dataclass
class CoverageRow:
    rule: AlertRule
    receivers: list[str]
    drilled_by: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    problems: list[str] = field(default_factory=list)
    coverage: list[CoverageRow] = field(default_factory=list)
    scenarios: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _problem(where: str, fld: str, reason: str) -> str:
    return f"{printable(where, 200)}: {printable(fld, 100)}: {printable(reason, 400)}"


def alerting_rules(rules_dir: Path, root: Path, default_interval: float) -> list[AlertRule]:
    """Every alerting rule in ``rules_dir``, with where it is written (raw text: ``${runbooks}`` unfilled)."""
    out = []
    for path in sorted([*rules_dir.glob("*.yml"), *rules_dir.glob("*.yaml")]):
        doc = load_yaml_template(path, {})
        for gi, group in enumerate(doc.get("groups") or []):
            interval = seconds(group["interval"]) if "interval" in group else default_interval
            for ri, rule in enumerate(group.get("rules") or []):
                if "alert" not in rule:
                    continue
                out.append(AlertRule(str(rule["alert"]), f"{_rel(path, root)}: groups[{gi}].rules[{ri}]",
                                     seconds(str(rule.get("for", "0s"))), interval,
                                     {k: str(v) for k, v in (rule.get("labels") or {}).items()},
                                     str((rule.get("annotations") or {}).get("runbook_url", ""))))
    return out


def runbook_problems(rule: AlertRule, root: Path) -> list[str]:
    url = rule.runbook_url
    if not url:
        return [_problem(rule.where, "annotations.runbook_url", f"{rule.name} has no runbook")]
    if not url.startswith(RUNBOOKS_TOKEN):
        return [_problem(rule.where, "annotations.runbook_url", f"must point into runbooks/ as "
                                                                f"{RUNBOOKS_TOKEN}NAME.md, not {url}")]
    path = root / "runbooks" / url.removeprefix(RUNBOOKS_TOKEN)
    if not path.resolve().is_relative_to((root / "runbooks").resolve()) or not path.is_file():
        return [_problem(rule.where, "annotations.runbook_url", f"runbooks/{url.removeprefix(RUNBOOKS_TOKEN)} "
                                                                "does not exist")]
    headings = " ".join(line.lower() for line in path.read_text(errors="replace").splitlines()
                        if line.startswith("#"))
    missing = [s for s in RUNBOOK_SECTIONS if not re.search(rf"\b{s}\b", headings)]
    if missing:
        return [_problem(_rel(path, root), "sections", f"no {', '.join(missing)} section (a heading naming it)")]
    return []


def check_catalog(root: Path, config_dir: Path | None = None, rules_dir: Path | None = None,
                  scenarios_dir: Path | None = None) -> CheckResult:
    config_dir = config_dir or root / "config"
    rules_dir = rules_dir or config_dir / "prometheus" / "rules"
    scenarios_dir = scenarios_dir or root / "scenarios"
    result = CheckResult()
    problems = result.problems
    for tool in ("promtool", "amtool"):
        if shutil.which(tool) is None:
            problems.append(_problem(tool, "(tool)", "not installed (Debian: prometheus, prometheus-alertmanager)"))
    try:
        with tempfile.TemporaryDirectory(prefix="gameday-check-") as tmp:
            addrs = {"gateway": "127.0.0.1:9", "backend": "127.0.0.1:9", "alertmanager": "127.0.0.1:9"}
            paths = render_monitoring(config_dir, rules_dir, Path(tmp), 1.0, addrs, "http://127.0.0.1:9",
                                      str(root / "runbooks"))
            check_with("promtool", ["check", "config", str(paths["prometheus"])],
                       _rel(config_dir / "prometheus" / "prometheus.yml", root), "(file)")
        prom = load_yaml_template(config_dir / "prometheus" / "prometheus.yml", {})
        am = load_yaml_template(config_dir / "alertmanager" / "alertmanager.yml", {"webhook": "http://x"})
        glob = prom.get("global") or {}
        scrape = seconds(str(glob.get("scrape_interval", "1m")))
        rules = alerting_rules(rules_dir, root, seconds(str(glob.get("evaluation_interval", "1m"))))
    except ConfigError as exc:
        problems.append(str(exc))
        return result
    receivers = {r.get("name") for r in am.get("receivers") or []}
    by_name = {r.name: r for r in rules}
    rows = {}
    for rule in rules:
        problems += runbook_problems(rule, root)
        route = route_for(am, {"alertname": rule.name, **rule.labels})
        rows[rule.name] = CoverageRow(rule, route.receivers)
        if rule.labels.get("priority") not in PRIORITIES:
            problems.append(_problem(rule.where, "labels.priority", f"{rule.name} has no priority label "
                                                                    f"({', '.join(PRIORITIES)})"))
    entries = load_catalog(scenarios_dir, root) if scenarios_dir.is_dir() else []
    result.scenarios = len(entries)
    for entry in entries:
        if entry.scenario is None:
            problems.append(str(entry.error))
            continue
        sc, where = entry.scenario, _rel(entry.path, root)
        if sc.draft:
            problems.append(_problem(where, "draft", "a draft: name the fault that fires its alert and delete "
                                                     "draft: true; until then it drills nothing"))
            continue
        if not (root / sc.runbook).is_file():
            problems.append(_problem(where, "runbook", f"{sc.runbook} does not exist"))
        for name in sc.quiet:
            if name not in by_name:
                problems.append(_problem(where, "quiet", f"no alerting rule named {name}"))
        urgent = []
        for i, exp in enumerate(sc.expect):
            rule = by_name.get(exp.alert)
            if rule is None:
                problems.append(_problem(where, f"expect[{i}].alert", f"no alerting rule named {exp.alert}"))
                continue
            rows[rule.name].drilled_by.append(sc.id)
            urgent.append(rule.labels.get("priority", "p3"))
            if exp.receiver not in receivers:
                problems.append(_problem(where, f"expect[{i}].receiver", f"Alertmanager has no receiver "
                                                                         f"{exp.receiver}"))
                continue
            route = route_for(am, {"alertname": rule.name, **rule.labels})
            if exp.receiver not in route.receivers:
                problems.append(_problem(where, f"expect[{i}].receiver", f"{exp.alert}'s labels route to "
                                                                         f"{', '.join(route.receivers)}"))
                continue
            timing = PipelineTiming(scrape, rule.interval_s, rule.for_s, route.group_wait, route.group_interval)
            try:
                assert_feasible(exp.alert, exp.within, timing, repeat=sc.alert_group == "repeat")
            except DrillFailed as exc:
                problems.append(_problem(where, f"expect[{i}].within", str(exc).removeprefix("preflight: ")))
        if urgent and sc.priority != min(urgent):
            problems.append(_problem(where, "priority", f"{sc.priority}, but its most urgent expected alert is "
                                                        f"{min(urgent)}: a drill has its alert's priority"))
    for row in rows.values():
        if not row.drilled_by:
            problems.append(_problem(row.rule.where, row.rule.name, "no scenario expects this alert: it is never "
                                                                    "drilled"))
    result.coverage = list(rows.values())
    return result


def render(result: CheckResult, width: int = 120) -> str:
    """The coverage table and the problems, as ``gameday check`` prints them."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="alerting rules and the drills that exercise them", title_justify="left")
    for col in ("alert", "priority", "routes to", "runbook", "drilled by"):
        table.add_column(col)
    for row in sorted(result.coverage, key=lambda r: (r.rule.labels.get("priority", "p9"), r.rule.name)):
        table.add_row(row.rule.name, row.rule.labels.get("priority", "-"), ", ".join(row.receivers),
                      row.rule.runbook_url.removeprefix(RUNBOOKS_TOKEN) or "-",
                      ", ".join(row.drilled_by) if row.drilled_by else "[bold red]NOT DRILLED[/]")
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    with console.capture() as cap:
        console.print(table)
    lines = [cap.get().rstrip()]
    drilled = sum(1 for r in result.coverage if r.drilled_by)
    lines += [f"problem: {p}" for p in result.problems]
    lines.append(f"gameday check: {len(result.coverage)} alerting rules, {drilled} drilled; {result.scenarios} "
                 f"scenarios; {len(result.problems)} problem{'s' if len(result.problems) != 1 else ''}")
    return "\n".join(lines)

