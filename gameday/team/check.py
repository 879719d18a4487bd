"""``gameday check --target NAME``: a team's catalog checked against its live stack, before any drill.

Each scenario goes through the drill's own preflight (``gameday.drill.preflight.run_preflight``) on the target
file's Prometheus and Alertmanager, which reads what the stack runs: the loaded rules and their ``for``, the
evaluation and scrape intervals, the live route tree and its ``group_wait``. So the check and a drill can never
disagree on what is feasible. Nothing is injected and nothing is written to the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gameday.core.errors import GamedayError
from gameday.drill.preflight import run_preflight
from gameday.scenario.loading import load_catalog
from gameday.team.target import TeamTarget


def check_live(root: Path, load: Callable[[], TeamTarget], scenarios: Path) -> tuple[bool, list[str]]:
    """(clean, lines) for the scenarios in ``scenarios`` on the target ``load`` builds from its file."""
    problems: list[str] = []
    try:
        target = load()
        for url in target.allowlist():
            target.reach.check(url)
        for service in target.spec.safety.faultable:  # never the monitoring, each container found exactly once
            target.refuse_monitoring(service)
        for label, api in (("Prometheus", target.prometheus), ("Alertmanager", target.alertmanager)):
            if not api.ready():
                raise GamedayError(f"{label} at {api.base_url} is not ready")
        rules = target.prometheus.alerting_rules()
    except GamedayError as exc:
        return False, [f"gameday check: {exc}"]
    drilled: dict[str, list[str]] = {rule: [] for rule in rules}
    entries = load_catalog(scenarios, root) if scenarios.is_dir() else []
    for entry in entries:
        where = str(entry.path.relative_to(root)) if entry.path.is_relative_to(root) else str(entry.path)
        if entry.scenario is None:
            problems.append(str(entry.error))
            continue
        sc = entry.scenario
        if sc.draft:
            problems.append(f"{where}: draft: a draft: name the fault that fires its alert and delete draft: true; "
                            "until then it drills nothing")
            continue
        try:
            run_preflight(sc, where, target, {e.alert: e.within for e in sc.expect})
        except (GamedayError, AssertionError) as exc:  # a rule missing, a route elsewhere, an SLA below the floor
            problems.append(f"{where}: {str(exc).removeprefix('preflight: ')}")
            continue
        for exp in sc.expect:
            drilled.setdefault(exp.alert, []).append(sc.id)
    for rule, by in drilled.items():
        if not by:
            problems.append(f"{target.prometheus.base_url}: rule {rule}: no scenario that passes this check expects "
                            "it: it is never drilled")
    lines = [f"  {rule:<32} {', '.join(by) if by else 'NOT DRILLED'}" for rule, by in sorted(drilled.items())]
    lines = [f"gameday check: the {target.name} target at {target.prometheus.base_url} and "
             f"{target.alertmanager.base_url}: every rule loaded there and the scenarios that drill it", *lines,
             *problems,
             f"gameday check: {len(rules)} alerting rules live, {sum(1 for b in drilled.values() if b)} drilled; "
             f"{len(entries)} scenarios; {len(problems)} problem{'s' if len(problems) != 1 else ''}"]
    return not problems, lines
