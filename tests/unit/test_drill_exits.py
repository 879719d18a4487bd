"""Every way out of a drill, in-process, in about a second each: the fake target (``tests.fakes``) imitates the
alert pipeline and the drill's own code runs unchanged on top of it. For each exit the console's verdict line,
the journal's verdict, the error pytest would end the test with and Allure's status agree."""

from __future__ import annotations

import json
import signal

import pytest

from gameday.core.errors import DrillFailed, error_for
from gameday.core.signals import Interrupted
from gameday.core.verdict import Verdict
from gameday.drill.runner import Drill, DrillContext
from gameday.observe.clients import Rule
from gameday.record.events import DrillEvents
from gameday.report.console import ConsoleReporter
from gameday.scenario.model import Scenario
from tests.fakes import SERVICE, FakeLoads, FakeTarget, Plan

SCALE = 300.0
RULES = {name: Rule(name, "fake_signal > 0", 0.0, {"severity": severity}, {}, 0.01)
         for name, severity in (("ServiceDown", "page"), ("HighLatency", "page"), ("BudgetTicket", "ticket"))}


def scenario(**over: object) -> Scenario:
    data = {"id": "fake-outage", "title": "the fake service goes away", "priority": "p0",
            "runbook": "runbooks/003-service-down.md", "steady_state": "12s",
            "fault": {"kind": "kill-service", "target": SERVICE, "duration": "6s"},
            "expect": [{"alert": "ServiceDown", "receiver": "pager", "within": "1m"}],
            "quiet": ["HighLatency"], "recovery": {"mode": "revert", "mttr_goal": "2m"}}
    data.update(over)
    return Scenario.model_validate(data)


class Drilled:
    def __init__(self, record, lines, raised, journal):
        self.record, self.lines, self.raised, self.journal = record, lines, raised, journal

    @property
    def reason(self) -> str:
        return "; ".join(self.record.reasons)


def drill(tmp_path, plan: Plan | None = None, sc: Scenario | None = None, events: DrillEvents | None = None,
          prepare: object = None, **ctx: object) -> Drilled:
    sc = sc or scenario()
    target = FakeTarget(plan or Plan(), RULES, [e.alert for e in sc.expect])
    if callable(prepare):
        prepare(target)
    events = events or DrillEvents()
    lines: list[str] = []
    events.subscribe(ConsoleReporter(lambda text, **_: lines.append(text), live=False))
    context = DrillContext(tmp_path, tmp_path / "reports", target, SCALE, poll=0.02, ask=0.02, plots=False,
                           loads=FakeLoads(tmp_path), **ctx)  # type: ignore[arg-type]
    if plan is not None and plan.prometheus_dies_at:
        dies_at = plan.prometheus_dies_at

        def stop_answering(phase: str, **_: object) -> None:
            if phase == dies_at:
                target.pipeline.prometheus_up = False

        events.phase_started.add_listener(stop_answering)
    d = Drill(sc, context, events=events)
    raised = None
    try:
        d.run()
    except BaseException as exc:  # noqa: BLE001 - what the drill let go is part of what is checked
        raised = exc
    rec = d.record
    journal = json.loads(rec.path.read_text()) if rec.path else None
    return Drilled(rec, lines, raised, journal)


def agree(result: Drilled, verdict: Verdict) -> None:
    """The journal, the console, pytest's outcome and Allure's status all read ``verdict``."""
    assert result.record.verdict == verdict, result.reason
    assert result.journal is not None and result.journal["verdict"] == verdict.value
    assert any(line.strip().startswith(f"verdict {verdict.value}") for line in result.lines), result.lines
    error = error_for(verdict, result.reason)
    if verdict == Verdict.PASS:
        assert error is None and verdict.allure == "passed"
        return
    assert error is not None and error.verdict == verdict and f"{error.label}: " .startswith(verdict.value)
    expected = {"FAIL": "failed", "SKIPPED": "skipped"}.get(verdict.value, "broken")
    assert verdict.allure == expected
    assert isinstance(error, AssertionError) == (verdict == Verdict.FAIL)  # pytest and Allure: failed, not broken


def test_a_drill_whose_page_comes_in_time_passes(tmp_path):
    result = drill(tmp_path)
    agree(result, Verdict.PASS)
    marks = result.journal["marks"]
    assert {"t_steady", "t_inject", "t_firing", "t_notified", "t_mitigated", "t_resolved"} <= set(marks)
    assert result.raised is None and result.journal["pages_refused"] == []


@pytest.mark.parametrize(("plan", "sc", "why"), [
    (Plan(fires=False), None, "ServiceDown never fired"),
    (Plan(pages="tickets"), None, "ServiceDown paged tickets instead of pager"),
    (Plan(fires_after=0.5), None, "ServiceDown paged pager"),
    (Plan(also_fires=("HighLatency",)), None, "HighLatency"),
    (Plan(resolves=False), None, "ServiceDown"),
], ids=["never-fired", "wrong-receiver", "late", "quiet-alert-fired", "not-resolved"])
def test_each_fail_reason_reads_fail_with_its_reason(tmp_path, plan, sc, why):
    result = drill(tmp_path, plan, sc)
    agree(result, Verdict.FAIL)
    assert why in result.reason
    assert result.raised is None


def test_a_late_page_says_it_was_past_its_sla(tmp_path):
    result = drill(tmp_path, Plan(fires_after=0.5))
    assert "SLA" in result.reason and "200ms" in result.reason


def test_a_stack_that_is_down_before_the_drill_is_error_never_a_verdict(tmp_path):
    result = drill(tmp_path, Plan(prometheus_dies_at="preflight"))
    agree(result, Verdict.ERROR)
    assert "Prometheus" in result.reason and "says nothing about the alert" in result.reason


def test_prometheus_going_away_while_the_drill_waits_is_error_and_the_fault_is_reverted(tmp_path):
    result = drill(tmp_path, Plan(prometheus_dies_at="detect", fires=False))
    agree(result, Verdict.ERROR)
    assert "Prometheus" in result.reason and "during detect" in result.reason
    assert "says nothing about the alert" in result.reason
    assert result.journal["fault"]["kind"] == "kill-service"


def test_a_fault_that_cannot_be_injected_is_error(tmp_path):
    result = drill(tmp_path, Plan(inject_fails=True))
    agree(result, Verdict.ERROR)
    assert "still answering after the kill" in result.reason


def test_a_stop_condition_that_holds_aborts_the_drill(tmp_path):
    sc = scenario(abort_when=[{"expr": "fake_error_ratio > 0.5", "description": "blast radius"}])
    result = drill(tmp_path, Plan(stop_condition_holds=True, fires=False), sc)
    agree(result, Verdict.ABORTED)
    assert "blast radius" in result.reason and "reverted at once" in result.reason


def test_a_fault_kind_the_target_lacks_is_skipped_with_nothing_done(tmp_path):
    sc = scenario(fault={"kind": "pause-service", "target": SERVICE, "skip_where_unsupported": True})
    result = drill(tmp_path, sc=sc)
    agree(result, Verdict.SKIPPED)
    assert "no container to pause" in result.reason and "t_inject" not in result.journal["marks"]


@pytest.mark.parametrize("phase", ["preflight", "steady-state", "inject", "detect", "recover", "resolve",
                                   "verdict"])
def test_a_signal_in_any_phase_is_error_and_goes_on_to_pytest(tmp_path, phase):
    events = DrillEvents()

    def sigterm(phase: str, **_: object) -> None:
        if phase == wanted:
            raise Interrupted(signal.SIGTERM)

    wanted = phase
    events.phase_started.add_listener(sigterm)
    result = drill(tmp_path, events=events)
    agree(result, Verdict.ERROR)
    assert isinstance(result.raised, Interrupted) and result.raised.signum == signal.SIGTERM
    assert f"interrupted (signal {int(signal.SIGTERM)}) during {phase}" in result.reason
    if phase in ("preflight", "steady-state", "inject"):  # the signal lands before the fault goes in
        assert "before any fault was injected" in result.reason and "t_inject" not in result.journal["marks"]
    else:
        assert "the fault was reverted" in result.reason and "t_inject" in result.journal["marks"]
    assert result.journal["fault"] == {} or result.record.fault["kind"] == "kill-service"


def test_ctrl_c_is_told_apart_from_sigterm(tmp_path):
    events = DrillEvents()

    def ctrl_c(phase: str, **_: object) -> None:
        if phase == "detect":
            raise KeyboardInterrupt

    events.phase_started.add_listener(ctrl_c)
    result = drill(tmp_path, events=events)
    assert "interrupted (Ctrl-C) during detect" in result.reason and result.record.verdict == Verdict.ERROR


def test_a_listener_that_breaks_costs_the_drill_nothing(tmp_path):
    events = DrillEvents()

    def broken(**_: object) -> None:
        raise RuntimeError("the Allure folder vanished")

    events.marked.add_listener(broken)
    result = drill(tmp_path, events=events)
    agree(result, Verdict.PASS)
    assert any("the Allure folder vanished" in c for c in result.journal["cautions"])


def test_a_broken_rule_fails_where_the_working_one_passes(tmp_path):
    """The same drill, the only change the rule: the verdict can come out FAIL, so its PASS means something."""
    assert drill(tmp_path / "ok").record.verdict == Verdict.PASS
    broken = drill(tmp_path / "broken", Plan(fires=False))
    assert broken.record.verdict == Verdict.FAIL
    with pytest.raises(DrillFailed):
        raise error_for(broken.record.verdict, broken.reason)  # type: ignore[misc]



def test_a_scenario_needing_pages_proved_further_than_the_target_proves_is_refused_before_any_fault(
        tmp_path, monkeypatch):
    monkeypatch.setattr(FakeTarget, "pages", {"level": "routed", "how": "Alertmanager's API", "more": "SETTING"},
                        raising=False)
    result = drill(tmp_path, sc=scenario(pages="delivered"))
    agree(result, Verdict.ERROR)
    assert ("pages: needs pages proved delivered, and the fake target proves them routed only: SETTING"
            in result.reason), result.reason
    assert "t_inject" not in result.journal["marks"] and result.journal["pages"]["level"] == "routed"
    assert "more" not in result.journal["pages"]
    satisfied = drill(tmp_path / "lower", sc=scenario(pages="routed"))  # routed asked, the fake proves routed
    agree(satisfied, Verdict.PASS)


def test_a_target_running_its_own_alertmanager_proves_delivered_so_any_level_needed_runs(tmp_path):
    for level in ("routed", "attempted", "delivered"):
        agree(drill(tmp_path / level, sc=scenario(pages=level)), Verdict.PASS)


def test_a_target_warning_is_a_caution_in_the_journal_and_on_the_console(tmp_path, monkeypatch):
    warning = "targets/shop.yaml: monitoring.prometheus.tls.insecure_skip_verify: not checked"
    monkeypatch.setattr(FakeTarget, "warnings", [warning], raising=False)
    result = drill(tmp_path)
    agree(result, Verdict.PASS)
    assert result.journal["cautions"] == [warning]
    assert any(f"caution: {warning}" in line for line in result.lines), result.lines


@pytest.mark.parametrize("live_quiet", [True, False])
def test_an_alert_firing_before_the_fault_on_a_shadow_pair_fails_only_where_the_teams_rule_is_quiet(tmp_path,
                                                                                                   live_quiet):
    """On a stack the run did not make, an alert that keeps firing through the steady state is an ERROR (nothing
    says the rule is to blame), unless the target is a shadow pair whose team's live Prometheus, with the rules as
    they are, holds no such alert: then the copy's rule fires for a healthy service, a FAIL."""
    def prepare(target: FakeTarget) -> None:
        target.created_by_run = False  # type: ignore[misc]
        target.quiet_where_live = lambda alerts: live_quiet  # type: ignore[attr-defined]
        target.pipeline.fire("HighLatency", "pager")

    result = drill(tmp_path, prepare=prepare)
    if live_quiet:
        agree(result, Verdict.FAIL)
        assert "HighLatency kept firing" in result.reason and "on the shadow pair" in result.reason, result.reason
    else:
        agree(result, Verdict.ERROR)
        assert "HighLatency still firing" in result.reason, result.reason
