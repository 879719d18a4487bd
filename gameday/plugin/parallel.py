"""Drills under pytest-xdist (``pytest -n N``): a plugin that the gameday plugin registers.

Each worker drills on a target of its own (the target plugins get the worker's name); the controller
hands its run id to every worker, refuses what cannot run in parallel, and reads each drill's journal
back for the summary table, since the drills ran in the workers. The order of the drills (longest
first) is set here too, for every run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gameday.core.clock import Clock
from gameday.core.verdict import Verdict
from gameday.record.journal import DrillRecord

RUN_ID_KEY = "gameday_run_id"
"""The controller's run id, in each worker's ``workerinput``."""


def worker_of(config: pytest.Config) -> str | None:
    """The pytest-xdist worker this session is (``gw0`` ...), or None."""
    return getattr(config, "workerinput", {}).get("workerid")


def inherited_run_id(config: pytest.Config) -> str | None:
    """In a worker, the run id of its controller."""
    return getattr(config, "workerinput", {}).get(RUN_ID_KEY)


def controller(config: pytest.Config) -> bool:
    """True in the controller of a pytest-xdist run: the drills run in its workers."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput") \
        and config.pluginmanager.hasplugin("xdist")


def results_cleaned_once(config: pytest.Config) -> None:
    """Only the controller cleans the Allure results folder (``--clean-alluredir``): a worker that pytest-xdist
    starts again after one crashed would otherwise wipe every result written so far."""
    if hasattr(config, "workerinput") and getattr(config.option, "clean_alluredir", False):
        config.option.clean_alluredir = False


def check_options(config: pytest.Config) -> None:
    """What cannot run in parallel is refused with one line."""
    if config.getoption("shadow"):
        raise pytest.UsageError("--shadow with -n: a trainee handles one incident at a time; drop -n")
    if config.getoption("compose_keep"):
        raise pytest.UsageError("--compose-keep with -n: the workers would inject faults into the same stack at "
                                "once; drop -n (without --compose-keep each worker brings up a stack of its own)")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Every worker's journals carry the controller's run id, so a review groups the whole run."""
    journals = node.config.pluginmanager.get_plugin("gameday-worker-journals")
    node.workerinput[RUN_ID_KEY] = journals.run_id if journals is not None else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest drills go first (``Scenario.length_bound``), in every run. Under ``-n`` no worker is then
    left with a long drill at the end while the others idle; in every run, a drill whose alerts have long
    windows (the slow burn's 6h) meets a lab whose windows hold no earlier drill's errors, instead of waiting
    minutes for them to age out. Hand-written drills keep their place after the catalog's. The order is the
    same in every worker (pytest-xdist requires it)."""

    def length(item: pytest.Item) -> float:
        callspec = getattr(item, "callspec", None)
        entry = callspec.params.get("scenario") if callspec is not None else None
        sc = getattr(entry, "scenario", None)
        return 0.0 if sc is None else sc.length_bound()

    items.sort(key=length, reverse=True)  # stable: equal lengths keep their order


class WorkerJournals:
    """In the controller: each drill's journal, named in its test's report by the worker that ran it
    (``gameday_journal`` in ``user_properties``), read back into ``records`` for the summary and Allure."""

    def __init__(self, run_id: str, records: list[DrillRecord], reports: Path, say: Callable[[str], None],
                 alluredir: str | None = None) -> None:
        self.run_id, self.records, self.reports, self.say = run_id, records, reports, say
        self.alluredir = alluredir
        """Where the run's Allure results go: a crashed drill's broken result is written there."""
        self.seen: set[str] = set()
        self.since = time.time()

    @pytest.hookimpl(tryfirst=True)  # before JUnit's writer reads the report: a crash reads as the ERROR it is
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == "gameday_journal":
                self._read(Path(value))
        if report.failed and "crashed while running" in str(report.longrepr):
            self._crashed(report)

    def _crashed(self, report: pytest.TestReport) -> None:
        """A worker died in a drill (a kill -9, the OOM killer): its faults are reverted from the ledger, and the
        drill is ERROR in a journal of its own, the summary and Allure; it never simply vanishes from the run."""
        from gameday.faults.ledger import Ledger
        from gameday.faults.revert import revert_orphans
        from gameday.report.allure import write_broken

        worker = getattr(getattr(report, "node", None), "gateway", None)
        who = f"worker {getattr(worker, 'id', '?')}"
        reverted = revert_orphans(Ledger(self.reports / "fault-ledger.jsonl"), self.say)
        faults = (f"{len(reverted)} fault(s) it left were reverted from the ledger ({', '.join(reverted)})"
                  if reverted else "it left no fault open in the ledger")
        scenario = report.nodeid.rsplit("[", 1)[-1].rstrip("]") if "[" in report.nodeid else report.nodeid
        reason = (f"the pytest-xdist {who} died while it ran this drill (crashed: killed, or out of memory); "
                  f"{faults}; nothing of the drill's own record survived")
        rec = DrillRecord(scenario, report.nodeid, "?", "", 1.0, Clock(), verdict=Verdict.ERROR, reasons=[reason],
                          run_id=self.run_id)
        rec.write(self.reports / "drills")
        self.seen.add(str(rec.path.resolve()) if rec.path else "")
        self.records.append(rec)
        if self.alluredir is not None:
            write_broken(Path(self.alluredir), report.nodeid, f"{scenario} [{who} crashed]", reason)
        report.longrepr = f"ERROR: {reason}"

    def _read(self, path: Path) -> None:
        if str(path) in self.seen:
            return
        self.seen.add(str(path))
        try:
            self.records.append(DrillRecord.from_journal(path))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.say(f"gameday: the journal {path} could not be read for the summary: {exc}")

    def catch_up(self) -> None:
        """The journals of this run whose reports never came: a drill interrupted with its worker (Ctrl-C,
        SIGTERM) still writes its ERROR journal, after the controller has stopped listening. pytest-xdist
        has ended (or killed) its workers by the time the summary is written."""
        for path in sorted((self.reports / "drills").glob("*.json")):
            try:
                if str(path.resolve()) in self.seen or path.stat().st_mtime < self.since:
                    continue
                if json.loads(path.read_text()).get("run") == self.run_id:
                    self._read(path.resolve())
            except (OSError, ValueError, AttributeError):
                continue
