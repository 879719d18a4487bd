"""What ``gameday mutate`` reports: the table on the console, ``mutate.json``, and one Allure result per mutant
(killed: passed; survived: failed; error: broken; uncovered, equivalent or invalid: skipped), so that the
mutation score sits beside the drills in the Allure report and the review (``gameday.report.review`` reads
``mutate.json``)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from gameday.mutate.run import OUTCOMES, Result, Run

ALLURE_STATUS = {"killed": "passed", "survived": "failed", "error": "broken", "uncovered": "skipped",
                 "equivalent": "skipped", "invalid": "skipped"}


def group_of(r: Result) -> str:
    """The rule (its alert) or the route a mutant belongs to."""
    m = r.mutant
    return m.alerts[0] if m.part == "rule" and m.alerts else m.where.split(": ", 1)[1]


def render(run: Run, width: int = 120) -> str:
    """The score per alert and overall, and each survivor with what would have caught it."""
    lines = []
    per: dict[str, list[Result]] = {}
    for r in run.results:
        per.setdefault(group_of(r), []).append(r)
    lines.append(f"{'rule or route':44} {'killed':>6} {'survived':>8} {'error':>5} {'uncov.':>6} {'equiv.':>6} "
                 f"{'invalid':>7}")
    for key, rs in per.items():
        c = {o: sum(1 for r in rs if r.outcome == o) for o in OUTCOMES}
        lines.append(f"{key[:44]:44} {c['killed']:>6} {c['survived']:>8} {c['error']:>5} {c['uncovered']:>6} "
                     f"{c['equivalent']:>6} {c['invalid']:>7}")
    survivors = [r for r in run.results if r.outcome == "survived"]
    if survivors:
        lines.append("")
        lines.append("survivors (what would have caught each):")
        lines += [f"  {r.mutant.diff[:width - 4]}\n      {r.why}" for r in survivors]
    c = run.counts()
    score = "n/a" if run.score is None else f"{run.score:.0f}%"
    failing = {s: v for s, v in run.baseline.items() if v != "PASS"}
    if run.baseline:
        lines.append("")
        lines.append(f"the config as it is: {len(run.baseline) - len(failing)} of {len(run.baseline)} covering drills "
                     "PASS" + (f"; judging no mutant: {', '.join(f'{s} ({v})' for s, v in failing.items())}"
                               if failing else ""))
    if run.scales:
        by: dict[float, list[str]] = {}
        for sid, k in run.scales.items():
            by.setdefault(k, []).append(sid)
        lines += [f"drilled at time scale {k:g} on labs of their own (the long drills): {', '.join(sorted(sids))}"
                  for k, sids in by.items()]
    lines.append("")
    lines.append(f"gameday mutate: score {score}: {c['killed']} killed, {c['survived']} survived, {c['error']} "
                 f"error, {c['uncovered']} uncovered, {c['equivalent']} equivalent, {c['invalid']} invalid, in "
                 f"{run.seconds:.0f}s")
    return "\n".join(lines)


def write_json(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run.as_dict(), indent=2))


def write_allure(run: Run, folder: Path) -> int:
    """One Allure result per judged mutant in ``folder`` (allure-python-commons' own writer); how many."""
    from allure_commons.logger import AllureFileLogger
    from allure_commons.model2 import Label, Parameter, Status, StatusDetails, TestResult
    from allure_commons.utils import uuid4

    folder.mkdir(parents=True, exist_ok=True)
    logger = AllureFileLogger(str(folder))
    now = int(time.time() * 1000)
    status = {"passed": Status.PASSED, "failed": Status.FAILED, "broken": Status.BROKEN, "skipped": Status.SKIPPED}
    for r in run.results:
        m = r.mutant
        verdicts = ", ".join(f"{s} {v}" for s, v in r.drills.items()) or "none run"
        logger.report_result(TestResult(
            uuid=uuid4(), name=f"mutant {m.id}: {r.outcome}", fullName=f"gameday.mutate.{m.id}",
            historyId=hashlib.sha256(f"gameday-mutant {m.id}".encode()).hexdigest(),
            status=status[ALLURE_STATUS[r.outcome]], description=m.diff,
            statusDetails=StatusDetails(message=f"{r.outcome}: {r.why}" if r.why else r.outcome),
            labels=[Label(name="parentSuite", value="mutation testing"), Label(name="suite", value=group_of(r)),
                    Label(name="subSuite", value=m.part), Label(name="tag", value=m.operator)],
            parameters=[Parameter(name="outcome", value=r.outcome), Parameter(name="drills", value=verdicts),
                        Parameter(name="score of the run", value="n/a" if run.score is None
                                  else f"{run.score:.0f}%")],
            start=now - int(r.seconds * 1000), stop=now))
    return len(run.results)
