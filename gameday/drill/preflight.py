"""Preflight: the scenario can run here and its SLA can be met at all, before any fault."""

from __future__ import annotations

from dataclasses import dataclass

from assertions.sla import assert_feasible
from gameday.core.errors import DrillFailed, DrillSkipped, HarnessError, ScenarioError, StackUnreachable
from gameday.drill.context import PhaseContext
from gameday.drill.recover import runbook_steps
from gameday.drill.steady import settle_groups
from gameday.drill.stopconditions import validate as validate_stops
from gameday.observe.clients import Rule
from gameday.pipeline.detection import Condition, Intensity, conditions, estimate, intensity_of
from gameday.pipeline.groups import known_group_labels
from gameday.pipeline.routing import RouteMatch, route_for
from gameday.pipeline.timing import PipelineTiming
from gameday.scenario.model import LOAD_FAULT_KINDS, PAGE_LEVELS, Scenario
from gameday.target.allowlist import check_target
from gameday.target.protocol import Target, optional, pages_of, reach_of


@dataclass(frozen=True)
class Preflight:
    rules: dict[str, Rule]
    timing: dict[str, PipelineTiming]
    """Per expected alert, for a page that opens a new Alertmanager group."""
    routes: dict[str, RouteMatch]
    group_labels: dict[str, dict[str, str]]
    """Per expected alert, the labels of its Alertmanager group that are known before it fires."""
    conditions: dict[str, list[Condition] | None]
    """Per expected and quiet alert, what its expression needs to hold (``ratewindow``), where the shape is
    known."""
    intensity: Intensity | None


def run_preflight(scenario: Scenario, source: str, target: Target, slas: dict[str, float]) -> Preflight:
    """Check everything that can be known before injecting; raise ``DrillFailed`` or a harness error."""
    prometheus, alertmanager, services = target.prometheus, target.alertmanager, target.services()
    if not prometheus.ready():
        raise StackUnreachable(f"Prometheus at {prometheus.base_url} is not ready")
    if not alertmanager.ready():
        raise StackUnreachable(f"Alertmanager at {alertmanager.base_url} is not ready")
    for url in target.allowlist():
        check_target(url, reach_of(target))
    if scenario.fault.target not in services:
        raise ScenarioError(source, "fault.target", f"no service {scenario.fault.target!r} of the system under test "
                                                  f"on the {target.name} target; it has: {', '.join(services)}")
    if scenario.fault.kind in LOAD_FAULT_KINDS:
        if scenario.fault.target != target.sli.service:
            raise ScenarioError(source, "fault.target", f"a {scenario.fault.kind} comes through the drill's load, "
                                                      f"which is aimed at {target.sli.service}, not "
                                                      f"{scenario.fault.target}")
    elif (why := target.faults.why_not(scenario.fault.kind, target.name, scenario.fault.target)) is not None:
        if scenario.fault.skip_where_unsupported:
            raise DrillSkipped(why)
        raise ScenarioError(source, "fault.kind", why)
    elif (refusal := optional(target, "fault_refusal")) is not None and (why := refusal(scenario.fault)):
        raise HarnessError(why)  # the target's own bound (a team's blast radius), before any fault
    rules = prometheus.alerting_rules()
    missing = [e.alert for e in scenario.expect if e.alert not in rules]
    missing += [q for q in scenario.quiet if q not in rules]
    if missing:
        raise DrillFailed(f"preflight: no alerting rule named {', '.join(missing)} is loaded in Prometheus")
    receivers = alertmanager.receivers()
    am_config = alertmanager.config()
    recording = prometheus.recording_rules()
    intensity = intensity_of(scenario.fault)
    interval = prometheus.scrape_interval()
    timing, routes, group_labels, conds = {}, {}, {}, {}
    for exp in scenario.expect:
        if exp.receiver not in receivers:
            raise DrillFailed(f"preflight: Alertmanager has no receiver {exp.receiver!r} "
                              f"(it has {', '.join(receivers)})")
        rule = rules[exp.alert]
        route = route_for(am_config, {"alertname": exp.alert, **rule.labels})
        if exp.receiver not in route.receivers:
            raise DrillFailed(f"preflight: {exp.alert}'s labels route to {', '.join(route.receivers)}, "
                              f"not {exp.receiver}")
        timing[exp.alert] = PipelineTiming(scrape_interval=interval, evaluation_interval=rule.group_interval_s,
                                           for_=rule.for_s, group_wait=route.group_wait,
                                           group_interval=route.group_interval)
        routes[exp.alert] = route
        group_labels[exp.alert] = known_group_labels(exp.alert, rule.labels, route.group_by)
        assert_feasible(exp.alert, slas[exp.alert], timing[exp.alert], repeat=scenario.alert_group == "repeat")
        conds[exp.alert] = conditions(rule.query, recording)
        if (est := estimate(conds[exp.alert], intensity)).never:
            raise DrillFailed(f"preflight: {exp.alert}: {est.why}; no SLA can be met at this intensity")
    for name in scenario.quiet:
        conds[name] = conditions(rules[name].query, recording)
    return Preflight(rules, timing, routes, group_labels, conds, intensity)


def preflight(pc: PhaseContext) -> None:
    """The preflight phase: what the scenario needs is there, the runbook has steps for this target, the error
    budget may be spent, the stop conditions parse and answer, and the group case is known: all before any fault."""
    sc, target = pc.scenario, pc.target
    if sc.draft:
        raise DrillSkipped(f"{pc.source} is a draft (draft: true): name the fault that fires its alert "
                           "(fault.kind, fault.target) and delete draft: true to drill it")
    pages = pages_of(target)
    pc.record.pages = {"level": pages["level"], "how": pages["how"]}
    pc.note(f"pages {pages['level']}: {pages['how']}")
    for warning in optional(target, "warnings", ()):
        pc.record.cautions.append(warning)
        pc.note(f"caution: {warning}")
    if sc.pages is not None and PAGE_LEVELS.index(pages["level"]) < PAGE_LEVELS.index(sc.pages):
        raise ScenarioError(pc.source, "pages", f"needs pages proved {sc.pages}, and the {target.name} target proves "
                                                f"them {pages['level']} only: "
                                                f"{pages.get('more', 'nothing here proves more')}")
    if skew := optional(target, "clock_skew"):
        pc.note("clock skew, each server's clock minus this machine's: " + ", ".join(
            f"{name} {seconds:+.3f}s" for name, seconds in skew.items()) + "; startsAt corrected by Prometheus's")
    pc.pre = run_preflight(sc, pc.source, target, pc.scaled.sla)
    if sc.recovery.mode == "runbook" and pc.ctx.shadow is None:
        runbook_steps(pc)  # a runbook with no version for this target: SKIPPED before any fault
    _gate_error_budget(pc)
    validate_stops(target.prometheus, [
        *((c, pc.source, f"abort_when[{i}]") for i, c in enumerate(sc.abort_when)),
        *((c, pc.ctx.abort_source, f"[{i}]") for i, c in enumerate(pc.ctx.abort_when))])
    settle_groups(pc, "preflight")


def _gate_error_budget(pc: PhaseContext) -> None:
    """The error budget policy decides whether this drill may spend the target's budget."""
    if pc.ctx.error_budget is None:
        return
    decision = pc.ctx.error_budget.decide(pc.target)
    pc.record.error_budget = decision.as_dict()
    pc.note(decision.line())
    if decision.forbids:
        raise DrillSkipped(decision.line())
