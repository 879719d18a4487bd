"""``gameday mutate``: each mutant of the lab's alerting (``gameday.mutate.mutants``) checked by promtool and
amtool, then drilled by the drills that cover it, on a lab of its own running the mutated copy, time-scaled.

- *killed*: a covering drill FAILED, and its reasons name an alert the mutant touched (it failed for the
  mutant's reason);
- *survived*: every covering drill PASSED: nothing the drills look at tells the mutant from the real config;
- *error*: a covering drill did not finish (ERROR, ABORTED, SKIPPED) or failed for another reason, and none
  killed it: counted apart, never as a kill;
- *uncovered*: no scenario expects an alert it touches, so no drill runs;
- *invalid*: promtool or amtool refused the mutant; listed, never counted.

The score is killed / (killed + survived + error): a mutant a drill could not judge counts against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.core.errors import ConfigError
from gameday.mutate.mutants import Mutant, alert_labels, route_mutants, rule_mutants
from gameday.pipeline.routing import matched_paths
from gameday.scenario.loading import load_catalog
from gameday.target.monitoring import check_with, load_yaml_template, render_monitoring

OUTCOMES = ("killed", "survived", "error", "uncovered", "invalid")


@dataclass
class Result:
    mutant: Mutant
    outcome: str
    drills: dict[str, str] = field(default_factory=dict)
    """scenario id -> verdict"""
    why: str = ""
    """For a survivor, what would have caught it; for an error or an invalid mutant, what was said."""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        m = self.mutant
        return {"id": m.id, "part": m.part, "operator": m.operator, "diff": m.diff, "alerts": m.alerts,
                "outcome": self.outcome, "drills": self.drills, "why": self.why, "seconds": round(self.seconds, 1)}


@dataclass
class Catalog:
    """What the mutants are judged by: each alert's drills and its longest SLA, and each route's alerts."""

    drills: dict[str, list[str]]
    slas: dict[str, float]
    quiet: dict[str, list[str]]
    """alert -> the scenarios that list it as quiet"""
    labels: dict[str, dict[str, str]]


def catalog(root: Path, config_dir: Path, scenarios_dir: Path) -> Catalog:
    labels = {name: {"alertname": name, **rule_labels} for name, rule_labels in alert_labels(config_dir).items()}
    drills: dict[str, list[str]] = {name: [] for name in labels}
    slas: dict[str, float] = {}
    quiet: dict[str, list[str]] = {}
    for entry in load_catalog(scenarios_dir, root):
        sc = entry.scenario
        if sc is None or sc.draft:
            continue
        for exp in sc.expect:
            drills.setdefault(exp.alert, []).append(sc.id)
            slas[exp.alert] = max(slas.get(exp.alert, 0.0), exp.within)
        for name in sc.quiet:
            quiet.setdefault(name, []).append(sc.id)
    return Catalog(drills, slas, quiet, labels)


def mutants_of(root: Path, config_dir: Path, cat: Catalog) -> list[Mutant]:
    am = load_yaml_template(config_dir / "alertmanager" / "alertmanager.yml", {"webhook": "http://x"})

    def alerts_of(path: tuple[int, ...]) -> list[str]:
        return sorted(a for a, labels in cat.labels.items() if path in matched_paths(am, labels))

    return rule_mutants(config_dir, cat.slas) + route_mutants(config_dir, alerts_of, cat.slas)


def invalid(mutant: Mutant, config_dir: Path, root: Path) -> str | None:
    """What promtool or amtool says of the mutant (its config as the lab renders it), or None when both pass."""
    with tempfile.TemporaryDirectory(prefix="gameday-mutant-") as tmp:
        copy = mutant.apply(config_dir, Path(tmp) / "config")
        try:
            addrs = {"gateway": "127.0.0.1:9", "backend": "127.0.0.1:9", "alertmanager": "127.0.0.1:9"}
            paths = render_monitoring(copy, copy / "prometheus" / "rules", Path(tmp) / "out", 1.0, addrs,
                                      "http://127.0.0.1:9", str(root / "runbooks"))
            check_with("promtool", ["check", "config", str(paths["prometheus"])], mutant.where, "(rules)")
            check_with("amtool", ["check-config", str(paths["alertmanager"])], mutant.where, "(routes)")
        except ConfigError as exc:
            return exc.reason
    return None


def judge(mutant: Mutant, journals: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The outcome of a mutant from its covering drills' journals, and why."""
    verdicts = {sid: j.get("verdict", "ERROR") for sid, j in journals.items()}
    for sid, j in journals.items():
        if verdicts[sid] == "FAIL" and any(a in r for r in j.get("reasons", []) for a in mutant.alerts):
            return "killed", f"{sid}: {j['reasons'][0][:160]}"
    if verdicts and all(v == "PASS" for v in verdicts.values()):
        return "survived", ""
    said = "; ".join(f"{sid} {v}: {(journals[sid].get('reasons') or [''])[0][:120]}" for sid, v in verdicts.items()
                     if v != "PASS") or "no drill ran"
    return "error", said


def caught_by(mutant: Mutant, cat: Catalog) -> str:
    """For a survivor: what would have caught it."""
    slas = [cat.slas[a] for a in mutant.alerts if a in cat.slas]
    if mutant.delay and slas:
        return (f"it delays the page by {mutant.delay:g}s and the SLA of {max(slas):g}s did not catch it: a "
                "drill whose SLA is under the rule's floor plus that delay would")
    if mutant.operator in ("severity changed", "severity dropped", "receiver swapped", "matcher changed"):
        return "the page still reached the expected receiver: no route tells the labels apart for this alert"
    if mutant.operator in ("threshold x10", "threshold /10", "range windows x10", "matcher removed",
                           "aggregation by changed", "comparison flipped"):
        missing = [a for a in mutant.alerts if not cat.quiet.get(a)]
        more = f"; no drill lists {', '.join(missing)} as quiet, so firing when it should not is never seen" \
            if missing else ""
        return (f"the fault's intensity fires the mutated rule too: a drill at an intensity near the threshold "
                f"(or one that must keep it quiet) would tell them apart{more}")
    if mutant.operator == "continue toggled":
        return "no later route matches the alert, so continue changes nothing it sends"
    return "no drill looks at what it changes"


def drill(mutant: Mutant, scenarios: list[str], config_dir: Path, root: Path, work: Path, scale: float,
          timeout: float = 900) -> dict[str, dict[str, Any]]:
    """Run the covering drills on a lab of their own with the mutated config; their journals by scenario."""
    copy = mutant.apply(config_dir, work / "config")
    reports = work / "reports"
    argv = [sys.executable, "-m", "pytest", str(root / "gamedays"), "-q", "-p", "no:cacheprovider", "-k",
            f"test_drill and ({' or '.join(scenarios)})", "--time-scale", f"{scale:g}", "--lab-config", str(copy),
            "--rules", str(copy / "prometheus" / "rules"), "--reports", str(reports), "--no-live",
            "--alluredir", str(work / "allure")]
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                              stdin=subprocess.DEVNULL)
        said = (done.stdout + done.stderr).strip().splitlines()
    except subprocess.TimeoutExpired:
        said = [f"the drills ran past {timeout:g}s and were stopped"]
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((reports / "drills").glob("*.json")):
        with path.open() as f:
            j = json.load(f)
        if j.get("scenario") in scenarios:
            out[j["scenario"]] = j
    for sid in scenarios:  # a drill with no journal: what pytest said last is all there is to go on
        if sid not in out:
            out[sid] = {"scenario": sid, "verdict": "ERROR",
                        "reasons": [f"no journal; pytest said: {' / '.join(said[-3:]) or 'nothing'}"]}
    return out


@dataclass
class Run:
    results: list[Result]
    seconds: float

    def counts(self) -> dict[str, int]:
        return {o: sum(1 for r in self.results if r.outcome == o) for o in OUTCOMES}

    @property
    def score(self) -> float | None:
        c = self.counts()
        judged = c["killed"] + c["survived"] + c["error"]
        return 100.0 * c["killed"] / judged if judged else None

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "counts": self.counts(), "seconds": round(self.seconds, 1),
                "mutants": [r.as_dict() for r in self.results]}


def mutate(root: Path, config_dir: Path, scenarios_dir: Path, work: Path, select: str | None = None,
           scale: float = 60.0, say: Any = print) -> Run:
    """Every mutant (those whose id or alerts contain ``select``, where given), judged in turn."""
    t0 = time.monotonic()
    cat = catalog(root, config_dir, scenarios_dir)
    mutants = [m for m in mutants_of(root, config_dir, cat)
               if select is None or select in m.id or any(select == a for a in m.alerts)]
    results = []
    for i, m in enumerate(mutants, 1):
        t = time.monotonic()
        scenarios = sorted({s for a in m.alerts for s in cat.drills.get(a, [])})
        if (bad := invalid(m, config_dir, root)) is not None:
            res = Result(m, "invalid", why=bad)
        elif not scenarios:
            res = Result(m, "uncovered", why=f"no scenario expects {', '.join(m.alerts) or 'an alert it takes'}")
        else:
            journals = drill(m, scenarios, config_dir, root, work / m.id.replace(":", "-"), scale)
            outcome, why = judge(m, journals)
            res = Result(m, outcome, {s: j.get("verdict", "ERROR") for s, j in journals.items()},
                         why if outcome != "survived" else caught_by(m, cat))
        res.seconds = time.monotonic() - t
        results.append(res)
        say(f"[{i}/{len(mutants)}] {res.outcome.upper():9} {m.diff}" + (f"  ({res.why[:100]})" if res.why else ""))
    return Run(results, time.monotonic() - t0)


def render(run: Run, width: int = 120) -> str:
    """The score per alert and overall, and each survivor with what would have caught it."""
    lines = []
    per: dict[str, list[Result]] = {}
    for r in run.results:
        key = r.mutant.alerts[0] if r.mutant.part == "rule" and r.mutant.alerts else r.mutant.where.split(": ", 1)[1]
        per.setdefault(key, []).append(r)
    lines.append(f"{'rule or route':44} {'killed':>6} {'survived':>8} {'error':>5} {'uncov.':>6} {'invalid':>7}")
    for key, rs in per.items():
        c = {o: sum(1 for r in rs if r.outcome == o) for o in OUTCOMES}
        lines.append(f"{key[:44]:44} {c['killed']:>6} {c['survived']:>8} {c['error']:>5} {c['uncovered']:>6} "
                     f"{c['invalid']:>7}")
    survivors = [r for r in run.results if r.outcome == "survived"]
    if survivors:
        lines.append("")
        lines.append("survivors (what would have caught each):")
        lines += [f"  {r.mutant.diff[:width - 4]}\n      {r.why}" for r in survivors]
    c = run.counts()
    score = "n/a" if run.score is None else f"{run.score:.0f}%"
    lines.append("")
    lines.append(f"gameday mutate: score {score}: {c['killed']} killed, {c['survived']} survived, {c['error']} "
                 f"error, {c['uncovered']} uncovered, {c['invalid']} invalid, in {run.seconds:.0f}s")
    return "\n".join(lines)


def write_json(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run.as_dict(), indent=2))
