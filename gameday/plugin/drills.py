"""Scenarios as pytest tests: the fixtures that start the target and the session's Locust on demand, and
``run_drill``, which runs one drill with its listeners and turns its verdict into the test's outcome."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.core.errors import (
    GamedayError,
    HarnessError,
    error_for,
)
from gameday.core.verdict import Verdict
from gameday.drill.runner import Drill, DrillContext
from gameday.faults.ledger import Ledger
from gameday.plugin.keys import RECORDS, RUN_ID, SHADOW_PAGER, SHADOW_TIMEOUT
from gameday.plugin.options import (
    _abort_path,
    _error_budget_gate,
    _global_stop_conditions,
    _reports_dir,
    _root,
    _target_name,
    _time_scale,
)
from gameday.plugin.parallel import worker_of
from gameday.plugin.terminal import _console, _say
from gameday.record.events import DrillEvents
from gameday.record.journal import DrillRecord
from gameday.scenario.loading import CatalogEntry
from gameday.scenario.model import Scenario
from gameday.target.protocol import load_pool, optional, reach_of


def _pager(config: pytest.Config) -> Any:
    """The session's shadow pager, started on first use (``gameday.shadow.pager.open_pager``)."""
    from gameday.shadow.pager import open_pager

    if SHADOW_PAGER not in config.stash:
        config.stash[SHADOW_PAGER] = open_pager(_root(config), _reports_dir(config))
    return config.stash[SHADOW_PAGER]


def _close_pager(config: pytest.Config) -> None:
    pager = config.stash.get(SHADOW_PAGER, None)
    if pager is None:
        return
    from gameday.shadow.pager import close_pager

    linger = config.getoption("shadow_linger")
    if linger is None:
        linger = 0.0 if os.environ.get("CI") else 60.0
    close_pager(pager, _reports_dir(config), linger, lambda line: _say(config, line))


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """The scenario of this drill; a bad file fails here with file, field and reason."""
    entry: CatalogEntry = request.param
    if entry.error is not None:
        raise entry.error
    assert entry.scenario is not None
    return entry.scenario


# -- the lab and the drill ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def gameday_reports(pytestconfig: pytest.Config) -> Path:
    path = _reports_dir(pytestconfig)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def gameday_ledger(pytestconfig: pytest.Config, gameday_reports: Path) -> Ledger:
    """The fault ledger. Faults that a run killed outright left open are reverted first (as ``gameday revert``
    does), each recorded as reverted only when the revert was checked, else as abandoned with the reason."""
    from gameday.faults.revert import revert_orphans

    ledger = Ledger(gameday_reports / "fault-ledger.jsonl", watchdog_bound=pytestconfig.getoption("watchdog"))
    revert_orphans(ledger, lambda line: _say(pytestconfig, line))
    return ledger


class _TargetOnDemand:
    """Starts the target at its first use, so a session of invalid scenarios never starts one."""

    def __init__(self, config: pytest.Config, reports: Path) -> None:
        self.config, self.reports = config, reports
        self.target: Any = None
        self.error: BaseException | None = None

    def get(self, when_serving: Callable[[Any], None] | None = None) -> Any:
        """The target, started at the first call; ``when_serving(target)`` once its services answer, if the target
        can say when (``gameday.target.readiness.wait_ready``)."""
        if self.error is not None:
            raise self.error
        if self.target is None:
            config, name, scale = self.config, _target_name(self.config), _time_scale(self.config)
            try:
                target = config.hook.pytest_gameday_make_target(config=config, name=name, reports=self.reports,
                                                                 time_scale=scale, worker=worker_of(config))
            except GamedayError as exc:  # a target file that is wrong: one line naming its field
                self.error = exc
                raise
            if optional(target, "when_serving", False) is not False:
                target.when_serving = when_serving
            if target is None:
                self.error = pytest.UsageError(f"--target {name}: no such target (gameday has lab, compose and k8s, "
                                               f"and a team's stack has its target file targets/{name}.yaml; a plugin "
                                               "adds others through pytest_gameday_make_target)")
                raise self.error
            if scale != 1 and not target.owns_monitoring:
                self.error = pytest.UsageError(f"--time-scale {scale:g}: the {name} target's monitoring config is "
                                               "not the harness's to scale; use --time-scale 1")
                raise self.error
            _say(config, f"gameday: starting the {name} target (time scale {scale:g}) ...")
            try:
                target.__enter__()
            except GamedayError as exc:
                self.error = exc
                raise
            if worker_of(config) is not None and not target.created_by_run:
                target.__exit__(None, None, None)
                self.error = HarnessError(f"the {name} target was already up: under -n the workers would inject "
                                          "faults into it at once; drop -n to drill a target this run did not "
                                          "create")
                raise self.error
            self.target = target
            warm = " (the warm lab kept up by `gameday lab up`)" if optional(target, "attached", False) else ""
            took = optional(target, "started_in")
            where = ("" if target.owns_monitoring else
                     f": Prometheus {target.prometheus.base_url}, Alertmanager {target.alertmanager.base_url}")
            _say(config, f"gameday: {name} ready" + (f" in {took:.1f}s" if took is not None else "") + warm + where)
        return self.target

    def close(self) -> None:
        if self.target is not None:
            self.target.__exit__(None, None, None)
            self.target = None


@pytest.fixture(scope="session")
def gameday_target_on_demand(pytestconfig: pytest.Config, gameday_reports: Path) -> Iterator[_TargetOnDemand]:
    holder = _TargetOnDemand(pytestconfig, gameday_reports)
    try:
        yield holder
    finally:
        holder.close()


@pytest.fixture(scope="session")
def gameday_target(gameday_target_on_demand: _TargetOnDemand) -> Any:
    """The target of this session (the embedded lab by default), started once and stopped at the end."""
    return gameday_target_on_demand.get()


@pytest.fixture(scope="session")
def gameday_load(gameday_reports: Path) -> Iterator[Any]:
    """The session's Locust, which each drill borrows (started by the first, stopped at the end)."""
    from gameday.load.locust import SharedLoad

    loads = SharedLoad(gameday_reports / "load" / "session")
    try:
        yield loads
    finally:
        loads.close()


@pytest.fixture
def run_drill(request: pytest.FixtureRequest, gameday_target_on_demand: _TargetOnDemand, gameday_reports: Path,
              gameday_ledger: Ledger, gameday_load: Any) -> Callable[[Scenario], DrillRecord]:
    """Run a scenario as a drill; PASS returns the journal, FAIL/ERROR/SKIPPED raise with the reason."""
    config = request.config

    def run(scenario: Scenario, source: str = "") -> DrillRecord:
        abort_when, gate = _global_stop_conditions(config), _error_budget_gate(config)  # a bad file: no target
        drill: Drill | None = None
        try:
            # the session's Locust starts as soon as the target's services answer, while its monitoring gets ready
            target = gameday_target_on_demand.get(lambda t: gameday_load.prestart(
                _root(config) / scenario.load.locustfile, t.url(t.sli.service), scenario.load.users,
                scenario.load.spawn_rate, reach=reach_of(t), workers=scenario.load.workers,
                pool=load_pool(t, scenario.load.workers)))
            ctx = DrillContext(_root(config), gameday_reports, target, _time_scale(config), ledger=gameday_ledger,
                               abort_when=abort_when, abort_source=str(_abort_path(config)), error_budget=gate,
                               run_id=config.stash[RUN_ID], regression=config.getoption("regression"),
                               late_page_wait=max(0.0, config.getoption("late_page_wait")),
                               loads=gameday_load)
            events = DrillEvents()  # this drill's own: its subscribers go with it
            events.finished.add_listener(lambda record: _remember(request, record))
            events.subscribe(_console(config))
            if config.pluginmanager.hasplugin("allure_pytest") and getattr(config.option, "allure_report_dir", None):
                from gameday.report.allure import AllureReporter

                events.subscribe(AllureReporter(ctx.root))
            if config.getoption("shadow"):
                from gameday.shadow.exercise import attach

                timeout = config.stash.get(SHADOW_TIMEOUT, None)
                ctx.shadow = attach(_pager(config), scenario, target, events, lambda line: _say(config, line))
                ctx.shadow_timeout = None if timeout is None else timeout / ctx.time_scale
            _say(config, f"  drill {scenario.id} [{scenario.priority}] {scenario.title}")
            drill = Drill(scenario, ctx, source=source, events=events)
            record = drill.run()
        except KeyboardInterrupt:
            # the drill did not finish: it is this test's ERROR (Allure: broken), counted in the summary, and
            # the session stops after it, tearing the target down as usual
            request.session.shouldstop = "gameday: a drill was interrupted (Ctrl-C or SIGTERM)"
            if drill is None:  # while its target started: no drill, no journal, no fault
                raise HarnessError(f"interrupted (Ctrl-C or SIGTERM) before drill {scenario.id} began, while its "
                                   "target was starting: no fault was injected") from None
            if drill.record.path is None:  # no whole record: what the drill says of the interruption
                raise HarnessError("; ".join(drill.record.reasons) or "interrupted (Ctrl-C or SIGTERM)") from None
            record = drill.record  # held back until its journal was written: the verdict stands as recorded
        reason = "; ".join(record.reasons)
        if record.verdict == Verdict.SKIPPED:
            pytest.skip(reason)
        if (error := error_for(record.verdict, reason)) is not None:
            raise error
        return record

    return run


def _remember(request: pytest.FixtureRequest, record: DrillRecord) -> None:
    """The record goes to the summary; its journal's path to the test's report (``user_properties``, also in
    the JUnit XML), which is how a ``-n`` run's controller finds each worker's drills."""
    request.config.stash[RECORDS].append(record)
    if record.path is not None:
        request.node.user_properties.append(("gameday_journal", str(record.path.resolve())))
        if record.pages:  # JUnit's properties say how far the pages were proved
            request.node.user_properties.append(("gameday_pages", str(record.pages.get("level", ""))))
        for caution in record.cautions:
            request.node.user_properties.append(("gameday_caution", caution))
