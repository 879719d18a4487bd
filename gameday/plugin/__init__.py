"""The pytest plugin (entry point ``pytest11``): options, markers, fixtures, scenario drills, reports.

Each ``scenarios/*.yaml`` becomes one parametrized ``scenario`` of a test that asks for it,
marked with its priority, so ``pytest gamedays/ -m p0`` runs the P0 drills. The embedded lab
starts once per session, on first use.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gameday.core.durations import human
from gameday.core.errors import (
    ConfigError,
    GamedayError,
    HarnessError,
    error_for,
    printable,
)
from gameday.core.signals import Interrupted
from gameday.core.verdict import Verdict
from gameday.drill.runner import Drill, DrillContext
from gameday.faults.ledger import Ledger
from gameday.plugin import parallel
from gameday.plugin.parallel import worker_of
from gameday.record.events import DrillEvents
from gameday.record.journal import DrillRecord
from gameday.scenario.loading import CatalogEntry, load_catalog
from gameday.scenario.model import PRIORITIES, Scenario

RECORDS = pytest.StashKey[list[DrillRecord]]()
SHADOW_PAGER = pytest.StashKey[Any]()
SHADOW_TIMEOUT = pytest.StashKey[float]()
RUN_ID = pytest.StashKey[str]()
"""This pytest session's id, in every journal it writes: what ``gameday report`` groups a review by."""
PRIORITY_TEXT = {"p0": "P0: critical, pages at once", "p1": "P1: high, pages in business hours",
                 "p2": "P2: medium, notifies without a page", "p3": "P3: low, informational"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameday", "game-day drills")
    group.addoption("--time-scale", type=float, default=None, metavar="N",
                    help="run the embedded lab N times faster: every rule, route and scrape duration and every "
                         "scenario SLA and MTTR goal is divided by N (default 1; e.g. 60 turns 1m into 1s)")
    group.addoption("--scenarios", default=None, metavar="DIR",
                    help="folder of scenario YAML files (default: scenarios/ under the project root)")
    group.addoption("--rules", dest="gameday_rules", default=None, metavar="DIR",
                    help="Prometheus rule files for the lab instead of config/prometheus/rules/ "
                         "(drill a changed rule before it ships)")
    group.addoption("--lab-config", default=None, metavar="DIR",
                    help="the lab's config folder (default: config/ under the project root)")
    group.addoption("--reports", dest="gameday_reports", default=None, metavar="DIR",
                    help="where journals, load stats and lab logs go (default: reports/)")
    group.addoption("--target", dest="gameday_target", default=None, metavar="NAME",
                    help="what the drills run against: lab (the embedded lab, the default) or compose (the "
                         "docker-compose.yml stack); a plugin can add its own through pytest_gameday_make_target")
    group.addoption("--watchdog", type=float, default=10.0, metavar="SECONDS",
                    help="a fault that outlives the harness (containers) is reverted by a watchdog process when the "
                         "harness sends no heartbeat for this long (default 10; 0 turns the watchdog off)")
    group.addoption("--error-budget-gate", choices=("auto", "always"), default="auto",
                    help="before each drill, read the SLOs' remaining error budget and apply the error budget policy "
                         "(healthy >50%%: drills run; warning 30-50%%: they run, flagged; critical 10-30%% and "
                         "emergency <10%%: SKIPPED; a budget that cannot be read: SKIPPED). auto (default): only on "
                         "a target this run did not create, such as a stack that was already up; always: on the lab "
                         "and fresh stacks too")
    group.addoption("--error-budget-override", default=None, metavar="REASON",
                    help="drill even where the error budget policy forbids it, on purpose; REASON (who approved it "
                         "and why) goes into every journal and report of the run")
    group.addoption("--slo", dest="gameday_slo", default=None, metavar="FILE",
                    help="the SLOs the error-budget gate reads (default: slo.yaml in the lab-config folder)")
    group.addoption("--regression", choices=("warn", "fail"), default="warn",
                    help="each expected alert's TTN against the median of the scenario's last 5 drills in the reports "
                         "folder: more than 25%% above it, or a margin to the SLA under 10%% of it, is a regression. "
                         "warn (default): said in the journal, the summary and the review; fail: the drill FAILs")
    group.addoption("--no-live", action="store_true", default=False,
                    help="no live status line; print a progress line every 10s instead (default off a TTY)")
    group.addoption("--shadow", action="store_true", default=False,
                    help="shadow exercise: a person handles each drill's incident. The page is announced here and "
                         "on a pager page on loopback (its address is printed, and written to REPORTS/shadow.json); "
                         "acknowledge there or with `gameday ack`, run commands with `gameday do -- CMD`, mitigate "
                         "with the runbook. The harness never reverts the fault while you work, hints at the "
                         "runbook's sections, says when the escalation path would page the secondary, and reverts "
                         "the fault itself at the safety timeout. Use a real-time run or a small --time-scale: "
                         "goals shrink with it. Only on the lab and compose targets (see --shadow-any-target)")
    group.addoption("--shadow-timeout", default=None, metavar="DURATION",
                    help="shadow: how long after the page the harness reverts the fault itself and ends the "
                         "exercise as FAIL (scenario time, like the goals: divided by --time-scale; default twice "
                         "the scenario's MTTR goal)")
    group.addoption("--shadow-linger", type=float, default=None, metavar="SECONDS",
                    help="shadow: keep the pager (with the debrief) up this long after the last exercise (default 60, "
                         "0 with CI set)")
    group.addoption("--shadow-any-target", action="store_true", default=False,
                    help="shadow: allow a target the harness did not start (a team's own stack), on purpose")
    parser.addini("gameday_time_scale", "default for --time-scale", default="1")
    parser.addini("gameday_target", "default for --target", default="lab")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from gameday.plugin import hookspecs as hooks

    pluginmanager.add_hookspecs(hooks)


def _target_name(config: pytest.Config) -> str:
    return str(config.getoption("gameday_target") or config.getini("gameday_target"))


def _root(config: pytest.Config) -> Path:
    return Path(config.rootpath)


def _time_scale(config: pytest.Config) -> float:
    value = config.getoption("time_scale")
    if value is None:
        try:
            value = float(config.getini("gameday_time_scale"))
        except ValueError:
            raise pytest.UsageError("gameday_time_scale in the ini file must be a number") from None
    return value


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before any plugin configures: a pytest-xdist worker never cleans the Allure results
    (``gameday.plugin.parallel``)."""
    parallel.results_cleaned_once(config)


def pytest_configure(config: pytest.Config) -> None:
    for prio in PRIORITIES:
        config.addinivalue_line("markers", f"{prio}: drills of priority {PRIORITY_TEXT[prio]}")
    config.addinivalue_line("markers", "gameday: a drill from the scenario catalog")
    _check_values(config)
    config.stash[RECORDS] = []
    # a worker's run is its controller's (gameday.plugin.parallel: pytest -n)
    config.stash[RUN_ID] = parallel.inherited_run_id(config) or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    config.pluginmanager.register(parallel, "gameday-parallel")
    if parallel.controller(config):
        parallel.check_options(config)
        config.pluginmanager.register(parallel.WorkerJournals(config.stash[RUN_ID], config.stash[RECORDS],
                                                              _reports_dir(config), lambda line: _say(config, line),
                                                              getattr(config.option, "allure_report_dir", None)),
                                      "gameday-worker-journals")
    override = config.getoption("error_budget_override")
    if override is not None and not override.strip():
        raise pytest.UsageError("--error-budget-override needs a reason: who approved the drill, and why")
    for option, what in (("scenarios", "--scenarios"), ("gameday_rules", "--rules"), ("lab_config", "--lab-config")):
        value = config.getoption(option)
        if value is not None and not Path(value).is_dir():
            raise pytest.UsageError(f"{what} {value}: no such folder")
    if config.getoption("shadow"):
        _check_shadow(config)
    if hasattr(signal, "SIGTERM") and _in_main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        config._gameday_sigterm = previous  # type: ignore[attr-defined]
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


def _check_values(config: pytest.Config) -> None:
    """The run's numbers and its reports folder, before anything starts: one line each (``gameday.plugin.usage``)."""
    from gameday.plugin import usage

    given = config.getoption("gameday_reports")
    reports = _reports_dir(config)
    problems = [usage.time_scale_problem(_time_scale(config)), usage.watchdog_problem(config.getoption("watchdog")),
                usage.reports_problem(reports) if given or reports.exists() else None]
    for problem in problems:
        if problem is not None:
            raise pytest.UsageError(problem)


def _check_shadow(config: pytest.Config) -> None:
    from gameday.core.durations import parse_ms
    from gameday.shadow import OWNED_TARGETS

    target = _target_name(config)
    if target not in OWNED_TARGETS and not config.getoption("shadow_any_target"):
        raise pytest.UsageError(f"--shadow: target {target!r} is not one the harness starts and stops ("
                                f"{', '.join(OWNED_TARGETS)}); a trainee's commands would act on it: add "
                                "--shadow-any-target to drill it on purpose")
    timeout = config.getoption("shadow_timeout")
    if timeout is not None:
        try:
            config.stash[SHADOW_TIMEOUT] = parse_ms(timeout) / 1000
        except ValueError as exc:
            raise pytest.UsageError(f"--shadow-timeout: {exc}") from None
        if not 0 < config.stash[SHADOW_TIMEOUT] <= 7 * 86400:
            raise pytest.UsageError("--shadow-timeout: longer than zero and at most a week (7d)")
    linger = config.getoption("shadow_linger")
    if linger is not None and not 0 <= linger <= 3600:
        raise pytest.UsageError(f"--shadow-linger {linger:g}: between 0 and 3600 seconds")


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


def pytest_unconfigure(config: pytest.Config) -> None:
    _close_pager(config)
    previous = getattr(config, "_gameday_sigterm", None)
    if previous is not None and _in_main_thread():
        signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    """SIGTERM takes the same path as Ctrl-C: every fault reverts, the lab stops, reports are written."""
    raise Interrupted(signum)


def pytest_report_header(config: pytest.Config) -> list[str]:
    scale = _time_scale(config)
    text = f"gameday: time scale {scale:g}"
    if scale != 1:
        text += f" (1m of rule time runs in {60 / scale:g}s; reports show real-time equivalents)"
    return [text + f"; target {_target_name(config)}"]


# -- scenarios as tests ------------------------------------------------------------------------
def _catalog(config: pytest.Config) -> list[CatalogEntry]:
    directory = Path(config.getoption("scenarios") or _root(config) / "scenarios")
    return load_catalog(directory, _root(config)) if directory.is_dir() else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" not in metafunc.fixturenames:
        return
    params = []
    for entry in _catalog(metafunc.config):
        prio = entry.scenario.priority if entry.scenario else entry.priority_hint
        # a file whose priority cannot be read is selected by every -m pN, so its error is seen
        marks = [getattr(pytest.mark, p) for p in ([prio] if prio else PRIORITIES)] + [pytest.mark.gameday]
        params.append(pytest.param(entry, id=entry.id, marks=marks))
    metafunc.parametrize("scenario", params, indirect=True)


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


def _reports_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("gameday_reports") or _root(config) / "reports")


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
            target = config.hook.pytest_gameday_make_target(config=config, name=name, reports=self.reports,
                                                             time_scale=scale, worker=worker_of(config))
            if hasattr(target, "when_serving"):
                target.when_serving = when_serving
            if target is None:
                self.error = pytest.UsageError(f"--target {name}: no such target (gameday has lab and compose; "
                                               "a plugin adds others through pytest_gameday_make_target)")
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
            warm = " (the warm lab kept up by `gameday lab up`)" if getattr(target, "attached", False) else ""
            _say(config, f"gameday: {name} ready in {target.started_in:.1f}s{warm}")
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
                scenario.load.spawn_rate))
            ctx = DrillContext(_root(config), gameday_reports, target, _time_scale(config), ledger=gameday_ledger,
                               abort_when=abort_when, abort_source=str(_abort_path(config)), error_budget=gate,
                               run_id=config.stash[RUN_ID], regression=config.getoption("regression"),
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


MAX_GLOBAL_STOPS = 50


def _abort_path(config: pytest.Config) -> Path:
    return Path(config.getoption("lab_config") or _root(config) / "config") / "abort.yaml"


def _global_stop_conditions(config: pytest.Config) -> list[Any]:
    """``abort.yaml`` in the lab-config folder: stop conditions for every drill (a list, as in a scenario)."""
    from gameday.scenario.files import load_config, read_yaml
    from gameday.scenario.model import StopCondition

    path = _abort_path(config)
    if not path.exists():
        return []
    data = read_yaml(path, what="a stop-condition file")
    if isinstance(data, list) and len(data) > MAX_GLOBAL_STOPS:
        raise ConfigError(str(path), "(top level)", f"{len(data)} stop conditions; at most {MAX_GLOBAL_STOPS}, each "
                                                    "asked of Prometheus twice a second while a fault is in")
    return load_config(path, list[StopCondition], "a stop-condition file", default=[])


def _error_budget_gate(config: pytest.Config) -> Any:
    """The session's error-budget gate, from ``--slo`` (or ``slo.yaml`` in the lab-config folder)."""
    from gameday.target.errorbudget import ErrorBudgetGate, load_slos

    override = config.getoption("error_budget_override")
    option = config.getoption("gameday_slo")
    path = Path(option) if option else Path(config.getoption("lab_config") or _root(config) / "config") / "slo.yaml"
    if option and not path.is_file():
        raise ConfigError(str(path), "(file)", "no such file (--slo)")
    return ErrorBudgetGate(load_slos(path), str(path), always=config.getoption("error_budget_gate") == "always",
                           override=printable(override.strip(), 300) if override else None)


def _suspended(config: pytest.Config) -> Any:
    """Output capture off, so drill progress reaches the terminal while the test runs."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()


def _writer(config: pytest.Config) -> Callable[..., None]:
    tr = config.pluginmanager.get_plugin("terminalreporter")

    def write(text: str, **markup: bool) -> None:
        if tr is not None:
            with _suspended(config):
                tr.write(text, **markup)
                tr.flush()  # type: ignore[attr-defined]

    return write


def _say(config: pytest.Config, text: str) -> None:
    """One line of its own in the terminal, even in the middle of pytest's progress line."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        with _suspended(config):
            tr.ensure_newline()
            tr.write_line(text)


def _console(config: pytest.Config) -> Any:
    from gameday.report.console import ConsoleReporter

    tr = config.pluginmanager.get_plugin("terminalreporter")
    on_tty = bool(tr is not None and tr.isatty())  # sys.stdout is pytest's capture by now
    live = not config.getoption("no_live") and on_tty and not os.environ.get("CI")
    return ConsoleReporter(_writer(config), live=live)


# -- reporting ---------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A gameday error reads as one line (file, field, reason or the drill's reason), not a traceback."""
    report = yield
    excinfo = call.excinfo
    if excinfo is not None and isinstance(excinfo.value, GamedayError):
        report.longrepr = f"{excinfo.value.label}: {excinfo.value}"
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    collector = config.pluginmanager.get_plugin("gameday-worker-journals")
    if collector is not None:
        collector.catch_up()
    records = config.stash.get(RECORDS, [])
    if not records:
        return
    results = getattr(config.option, "allure_report_dir", None)
    if results and config.pluginmanager.hasplugin("allure_pytest"):
        from gameday.report.allure import write_run_files

        write_run_files(Path(results), records)
    from gameday.report.console import render_summary

    terminalreporter.write_sep("=", "gameday summary")
    terminalreporter.write(render_summary(records, terminalreporter._tw.fullwidth))
    for record in records:
        for caution in record.cautions:
            terminalreporter.write_line(f"caution: {record.scenario_id}: {caution}")
        for alert, trend in record.trends.items():
            if trend.get("regression"):
                terminalreporter.write_line(f"regression: {record.scenario_id} {alert}: {trend['regression']}")
        for alert in record.expected:
            warm = record.floors.get(f"expected_ttn_warm:{alert}")
            if warm is not None:
                ttn = record.timings_of(alert).ttn
                terminalreporter.write_line(
                    f"young windows: {record.scenario_id} {alert} paged after {human(ttn)}; on a service whose "
                    f"windows are full, expect about {human(warm)}: this drill proves the rule and the route, "
                    "not the time a steady service takes to page")
    journals = {str(r.path.parent) for r in records if r.path}
    for folder in sorted(journals):
        terminalreporter.write_line(f"journals: {folder}")
