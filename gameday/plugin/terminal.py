"""The terminal: a drill's live lines past pytest's capture, one line for a gameday error instead of a
traceback, and the gameday summary at the end."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.core.durations import human
from gameday.core.errors import (
    GamedayError,
)
from gameday.plugin.keys import RECORDS


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
