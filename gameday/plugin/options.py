"""The run's options (``pytest --help``, gameday's group) and the config files they name, checked before
anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gameday.core.errors import (
    ConfigError,
    printable,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameday", "game-day drills")
    group.addoption("--time-scale", type=float, default=None, metavar="N",
                    help="run the embedded lab N times faster: every rule, route and scrape duration and every "
                         "scenario SLA and MTTR goal is divided by N, 0.1 to 300 (default 1, or the gameday_time_scale "
                         "ini value; e.g. 60 turns 1m into 1s)")
    group.addoption("--scenarios", default=None, metavar="DIR",
                    help="folder of scenario YAML files (default: scenarios/ under the project root)")
    group.addoption("--rules", dest="gameday_rules", default=None, metavar="DIR",
                    help="Prometheus rule files for the lab instead of config/prometheus/rules/ "
                         "(drill a changed rule before it ships)")
    group.addoption("--lab-config", default=None, metavar="DIR",
                    help="the lab's config folder (default: config/ under the project root)")
    group.addoption("--reports", dest="gameday_reports", default=None, metavar="DIR",
                    help="where journals, load stats and lab logs go (default: reports/); a plain file, an unwritable "
                         "folder or one with under 64 MiB free is refused up front")
    group.addoption("--target", dest="gameday_target", default=None, metavar="NAME",
                    help="what the drills run against: lab (the embedded lab, the default), compose (the "
                         "docker-compose.yml stack), k8s (the lab's services on a local Kubernetes cluster the "
                         "run starts), or a team's own stack described in targets/NAME.yaml (or a "
                         "path to such a file; docs/guides/own-stack.md); a plugin can add its own through "
                         "pytest_gameday_make_target")
    group.addoption("--watchdog", type=float, default=10.0, metavar="SECONDS",
                    help="a fault that outlives the harness (containers) is reverted by a watchdog process when the "
                         "harness sends no heartbeat for this long: 5 to 3600 (default 10; 0 turns the watchdog off)")
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
    group.addoption("--late-page-wait", type=float, default=1.0, metavar="SLAS",
                    help="how long the detect phase goes on waiting for a page past its SLA, in SLAs (default 1: a "
                         "page late by up to its SLA is told apart from one that never came; 0: one second, as "
                         "gameday mutate's labs do; the verdict is FAIL either way)")
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


def _reports_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("gameday_reports") or _root(config) / "reports")


MAX_GLOBAL_STOPS = 50


def _abort_path(config: pytest.Config) -> Path:
    return Path(config.getoption("lab_config") or _root(config) / "config") / "abort.yaml"


def _global_stop_conditions(config: pytest.Config) -> list[Any]:
    """``abort.yaml`` in the lab-config folder: stop conditions for every drill (a list, as in a scenario)."""
    from gameday.scenario.files import read_yaml, validated
    from gameday.scenario.model import StopCondition

    path = _abort_path(config)
    if not path.exists():
        return []
    data = read_yaml(path, what="a stop-condition file")
    if isinstance(data, list) and len(data) > MAX_GLOBAL_STOPS:
        raise ConfigError(str(path), "(top level)", f"{len(data)} stop conditions; at most {MAX_GLOBAL_STOPS}, each "
                                                    "asked of Prometheus twice a second while a fault is in")
    return validated(data, list[StopCondition], str(path), default=[])


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

