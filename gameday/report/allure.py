"""Allure: one step per phase, the timings as parameters, the journal and evidence as attachments.

Registered for a drill only when allure-pytest is writing results; never in the way of a revert.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import allure

from gameday.core.durations import human
from gameday.core.verdict import Verdict
from gameday.record.journal import DrillRecord
from gameday.report.review import drill_page

SEVERITY = {"p0": allure.severity_level.CRITICAL, "p1": allure.severity_level.NORMAL,
            "p2": allure.severity_level.MINOR, "p3": allure.severity_level.TRIVIAL}


class AllureReporter:
    def __init__(self, root: Path, config: Path | None = None) -> None:
        self.root = root
        self.config = config
        """The target's configuration folder (its ``slo.yaml`` prices the drill's SLO impact)."""
        self._steps: list[Any] = []

    def on_phase_started(self, phase: str, **_: Any) -> None:
        step = allure.step(phase)
        step.__enter__()
        self._steps.append(step)

    def on_phase_ended(self, error: BaseException | None = None, **_: Any) -> None:
        if self._steps:
            step = self._steps.pop()
            if error is None:
                step.__exit__(None, None, None)
            else:
                step.__exit__(type(error), error, error.__traceback__)

    def on_finished(self, record: DrillRecord, **_: Any) -> None:
        while self._steps:
            self._steps.pop().__exit__(None, None, None)
        allure.dynamic.title(f"{record.title} [{record.scenario_id}]")
        allure.dynamic.severity(SEVERITY.get(record.priority, allure.severity_level.NORMAL))
        allure.dynamic.label("priority", record.priority)
        runbook = (self.root / record.runbook).resolve()
        allure.dynamic.link(runbook.as_uri(), name=f"runbook: {record.runbook}")
        if runbook.is_file():  # the link opens only beside the project; the text travels with the report
            allure.attach.file(str(runbook), name=f"runbook {runbook.name}", attachment_type="text/markdown",
                               extension="md")
        if record.plot and Path(record.plot).is_file():
            allure.attach.file(record.plot, name="drill plot", attachment_type=allure.attachment_type.PNG)
        if record.trend_plot and Path(record.trend_plot).is_file():
            allure.attach.file(record.trend_plot, name="TTD / TTN / MTTR over recent drills",
                               attachment_type=allure.attachment_type.PNG)
        allure.attach(drill_page(record.as_dict() | {"_path": str(record.path) if record.path else None},
                                 self.root, self.config),
                      name="drill review", attachment_type=allure.attachment_type.HTML)
        t, goals = record.timings, record.goals
        sla = record.sla
        measured("verdict", record.verdict)
        if record.pages:
            measured("pages", f"{record.pages.get('level')}: {record.pages.get('how')}")
        for i, caution in enumerate(record.cautions, 1):
            measured(f"caution {i}", caution)
        allure.dynamic.parameter("time scale", f"{record.time_scale:g}")
        measured("TTD", human(t.ttd))
        measured("TTN / SLA", f"{human(t.ttn)} / {human(sla)}")
        measured("MTTR / goal", f"{human(t.mttr)} / {human(goals.get('mttr'))}")
        for alert, seen in record.alert_groups.items():
            group = seen.get("at the fault") or seen.get("preflight") or {}
            measured(f"Alertmanager group of {alert}", group.get("state", "-"))
        if record.error_budget:
            budget = record.error_budget
            measured("error budget", (budget.get("state") or "-") if budget.get("checked") else "not checked")
            if budget.get("override"):
                measured("error budget override", budget["override"])
        for alert in record.expected:
            if (expected := record.floors.get(f"expected_ttn:{alert}")) is not None:
                measured(f"TTN expected ({alert})", human(expected))
        for alert in record.expected[1:]:  # the first alert's times are the ones above
            other = record.timings_of(alert)
            measured(f"TTN / SLA of {alert}", f"{human(other.ttn)} / {human(goals.get(f'sla:{alert}'))}")
        if record.time_scale != 1:
            measured("TTN real-time", human(record.real(t.ttn)))
            measured("MTTR real-time", human(record.real(t.mttr)))
        data = record.as_dict()
        allure.attach(json.dumps({k: data[k] for k in ("marks", "alerts", "phases", "timings", "timings_real", "goals",
                                                       "floors", "verdict", "reasons")}, indent=2, default=str),
                      name="drill timeline", attachment_type=allure.attachment_type.JSON)
        allure.attach(json.dumps(record.notifications, indent=2, default=str), name="notifications received",
                      attachment_type=allure.attachment_type.JSON)
        stats = Path(record.load.get("json", ""))
        if record.load:
            allure.attach(json.dumps(record.load, indent=2, default=str), name="load summary",
                          attachment_type=allure.attachment_type.JSON)
        window = Path(record.load.get("csv", ""))
        if stats.is_file():
            allure.attach.file(str(stats), name="locust stats", attachment_type=allure.attachment_type.JSON)
        elif window.is_file():  # the drill's window of the session's Locust
            allure.attach.file(str(window), name="locust stats", attachment_type=allure.attachment_type.CSV)


def measured(name: str, value: str) -> None:
    """A parameter that is a result, not an input: kept out of the test's history id, so Allure's history links
    tonight's drill with last week's (its trend) instead of starting a new test for every new TTN."""
    allure.dynamic.parameter(name, value, excluded=True)


def _failed(name: str, pattern: str) -> dict[str, Any]:
    """A category of FAILs whose reason contains ``pattern``. [\\s\\S]* rather than (?s).*: Allure 3 reads it as a
    JavaScript regular expression, which knows no (?s); Allure 2 matches it against the whole message."""
    return {"name": name, "messageRegex": f"[\\s\\S]*{pattern}[\\s\\S]*", "matchedStatuses": ["failed"]}


CATEGORIES = [  # Allure's categories: each FAIL reason by its kind, then what was not a verdict on the alert
    _failed("never fired", "never fired"),
    _failed("paged late", "beyond its SLA"),
    _failed("fired but no page", "but no page reached"),
    _failed("wrong receiver", "(instead of|route to)"),
    _failed("not resolved in time", "(not resolved within|beyond its MTTR goal)"),
    _failed("quiet alert fired", "must stay quiet fired"),
    _failed("runbook mitigation wrong", "mitigation '[^']*', (step [0-9]+ of|all [0-9]+ step)"),
    _failed("slower than its recent drills", "regression \\(--regression fail\\)"),
    _failed("refused in preflight", "preflight"),
    {"name": "ERROR: the harness or the monitoring stack, not the alert", "matchedStatuses": ["broken"]},
]


def write_broken(results: Path, nodeid: str, name: str, message: str) -> Path:
    """An Allure result that reads *broken* for a test whose own process died before it wrote one."""
    import hashlib
    import time
    import uuid

    now = int(time.time() * 1000)
    body = {"uuid": str(uuid.uuid4()), "historyId": hashlib.md5(nodeid.encode()).hexdigest(),  # noqa: S324
            "testCaseId": hashlib.md5(nodeid.encode()).hexdigest(), "fullName": nodeid, "name": name,  # noqa: S324
            "status": Verdict.ERROR.allure, "statusDetails": {"message": message}, "stage": "finished", "start": now,
            "stop": now, "labels": [{"name": "framework", "value": "gameday"}]}
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{body['uuid']}-result.json"
    path.write_text(json.dumps(body))
    return path


def write_run_files(results: Path, records: list[DrillRecord]) -> None:
    """``categories.json`` and ``environment.properties`` in the results folder (Allure reads both)."""
    results.mkdir(parents=True, exist_ok=True)
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
    last = next((r for r in reversed(records) if r.stack), None)
    env = {"target": last.stack.get("target", "?") if last else "?",
           "time scale": f"{records[-1].time_scale:g}" if records else "?",
           "Prometheus": last.stack.get("prometheus", "?") if last else "?",
           "Alertmanager": last.stack.get("alertmanager", "?") if last else "?",
           "drills": str(len(records))}
    (results / "environment.properties").write_text(
        "".join(f"{k.replace(' ', '.')}={v}\n" for k, v in env.items()))


def write_allure_config(path: Path, history: Path) -> Path:
    """The configuration Allure 3 renders gameday's results with: the categories above (Allure 3 takes them from
    its configuration, not from ``categories.json``) and the history file that links each drill's runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": "gameday drills", "historyPath": str(history.resolve()),
                                "categories": CATEGORIES}, indent=2))
    return path
