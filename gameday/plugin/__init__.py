"""The pytest plugin (entry point ``pytest11``): options, markers, fixtures, scenario drills, reports.

Each ``scenarios/*.yaml`` becomes one parametrized ``scenario`` of a test that asks for it,
marked with its priority, so ``pytest gamedays/ -m p0`` runs the P0 drills. The embedded lab
starts once per session, on first use.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gameday.core.signals import Interrupted
from gameday.plugin import parallel
from gameday.plugin.drills import (  # fixtures and hooks defined beside, seen by pytest as this plugin's own
    _close_pager,
    gameday_ledger,
    gameday_load,
    gameday_reports,
    gameday_target,
    gameday_target_on_demand,
    run_drill,
    scenario,
)
from gameday.plugin.keys import PRIORITY_TEXT, RECORDS, RUN_ID, SHADOW_TIMEOUT
from gameday.plugin.options import _check_values, _reports_dir, _root, _target_name, _time_scale, pytest_addoption
from gameday.plugin.terminal import _say, pytest_runtest_makereport, pytest_terminal_summary
from gameday.scenario.loading import CatalogEntry, load_catalog
from gameday.scenario.model import PRIORITIES

__all__ = ["gameday_ledger", "gameday_load", "gameday_reports", "gameday_target", "gameday_target_on_demand",
           "pytest_addoption", "pytest_runtest_makereport", "pytest_terminal_summary", "run_drill", "scenario"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from gameday.plugin import hookspecs as hooks

    pluginmanager.add_hookspecs(hooks)


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
def scenario_catalog(config: pytest.Config) -> list[CatalogEntry]:
    """The scenarios of the session (``--scenarios``, else scenarios/ under the root), each loaded or its error."""
    directory = Path(config.getoption("scenarios") or _root(config) / "scenarios")
    return load_catalog(directory, _root(config)) if directory.is_dir() else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" not in metafunc.fixturenames:
        return
    params = []
    for entry in scenario_catalog(metafunc.config):
        prio = entry.scenario.priority if entry.scenario else entry.priority_hint
        # a file whose priority cannot be read is selected by every -m pN, so its error is seen
        marks = [getattr(pytest.mark, p) for p in ([prio] if prio else PRIORITIES)] + [pytest.mark.gameday]
        params.append(pytest.param(entry, id=entry.id, marks=marks))
    metafunc.parametrize("scenario", params, indirect=True)


