"""``gameday mutate``: each mutant of the lab's alerting (``gameday.mutate.mutants``) checked by promtool and
amtool, then drilled by the drills that cover it, on a lab of its own running the mutated copy, time-scaled.

- *killed*: a covering drill FAILED, and its reasons name an alert the mutant touched (it failed for the
  mutant's reason);
- *survived*: every covering drill PASSED: nothing the drills look at tells the mutant from the real config;
- *error*: a covering drill did not finish (ERROR, ABORTED, SKIPPED) or failed for another reason, and none
  killed it: counted apart, never as a kill;
- *uncovered*: no scenario expects an alert it touches, so no drill runs;
- *equivalent*: a route mutant that sends every alert of the rules where it went before, with the same timers
  (checked as ``amtool config routes test`` would, for each rule's labels): nothing could tell it apart, so it is
  listed, never drilled or counted;
- *invalid*: promtool or amtool refused the mutant; listed, never counted.

The score is killed / (killed + survived + error): a mutant a drill could not judge counts against it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.core.errors import ConfigError
from gameday.mutate.mutants import Mutant, alert_labels, kills, route_mutants, rule_mutants
from gameday.mutate.workers import Job, Stack, drill_all
from gameday.pipeline.routing import matched_paths, route_for
from gameday.scenario.loading import load_catalog
from gameday.target.monitoring import check_with, load_yaml_template, render_monitoring

ORIGINAL = "original"
"""The part of the config-as-it-is drills that every mutant is judged against."""
OUTCOMES = ("killed", "survived", "error", "uncovered", "equivalent", "invalid")


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
    length: dict[str, float] = field(default_factory=dict)
    """scenario -> how long its drill may take, roughly (``Scenario.length_bound``): what orders the drills"""


def catalog(root: Path, config_dir: Path, scenarios_dir: Path) -> Catalog:
    labels = {name: {"alertname": name, **rule_labels} for name, rule_labels in alert_labels(config_dir).items()}
    drills: dict[str, list[str]] = {name: [] for name in labels}
    slas: dict[str, float] = {}
    quiet: dict[str, list[str]] = {}
    length: dict[str, float] = {}
    for entry in load_catalog(scenarios_dir, root):
        sc = entry.scenario
        if sc is None or sc.draft:
            continue
        length[sc.id] = sc.length_bound()
        for exp in sc.expect:
            drills.setdefault(exp.alert, []).append(sc.id)
            slas[exp.alert] = max(slas.get(exp.alert, 0.0), exp.within)
        for name in sc.quiet:
            quiet.setdefault(name, []).append(sc.id)
    return Catalog(drills, slas, quiet, labels, length)


def covering(m: Mutant, cat: Catalog) -> list[str]:
    """The drills that exercise a mutant, shortest first: those that expect an alert it touches, and for a rule's
    mutant those that list the alert as quiet too (they check that it does not fire where it must not; a route
    changes nothing of whether an alert fires)."""
    found = {s for a in m.alerts for s in cat.drills.get(a, [])}
    if m.part == "rule":
        found |= {s for a in m.alerts for s in cat.quiet.get(a, [])}
    return sorted(found, key=lambda s: (cat.length.get(s, 0.0), s))


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


ROUTING_ONLY = ("continue toggled", "matcher changed", "receiver swapped")
"""Route operators whose only effect is where an alert goes: a tree that sends every alert where it did is the
same to Alertmanager."""


def _matcher_labels(route: dict[str, Any]) -> set[str]:
    names = set((route.get("match") or {}) | (route.get("match_re") or {}))
    names |= {text.split("=")[0].rstrip("!~ ").strip() for text in route.get("matchers") or []}
    for child in route.get("routes") or []:
        names |= _matcher_labels(child)
    return names


def equivalent(mutant: Mutant, config_dir: Path, cat: Catalog) -> str | None:
    """Why a route mutant cannot change anything the alerts do (None when it may): every alert of the rules is
    routed to the same receivers with the same timers, and every matcher of both trees reads only labels each
    rule sets (so no label of a series at run time could route an alert otherwise)."""
    if mutant.part != "route" or mutant.operator not in ROUTING_ONLY:
        return None
    with tempfile.TemporaryDirectory(prefix="gameday-mutant-") as tmp:
        copy = mutant.apply(config_dir, Path(tmp) / "config")
        trees = [load_yaml_template(folder / "alertmanager" / "alertmanager.yml", {"webhook": "http://x"})
                 for folder in (config_dir, copy)]
    read = set().union(*(_matcher_labels(t.get("route") or {}) for t in trees))
    if any(not read <= set(labels) for labels in cat.labels.values()):
        return None
    if any(route_for(trees[0], labels) != route_for(trees[1], labels) for labels in cat.labels.values()):
        return None
    return (f"equivalent: each of the {len(cat.labels)} alerts is routed as before (receivers and timers), and "
            f"the matchers read only labels the rules set ({', '.join(sorted(read))})")


def judge(mutant: Mutant, journals: dict[str, dict[str, Any]],
          baseline: dict[str, str] | None = None) -> tuple[str, str]:
    """The outcome of a mutant from its covering drills' journals, and why. ``baseline``: each drill's verdict on
    the config as it is; a drill that did not PASS there kills no mutant (its FAIL is not the mutant's doing)."""
    verdicts = {sid: j.get("verdict", "ERROR") for sid, j in journals.items()}
    for sid, j in journals.items():
        if baseline is not None and baseline.get(sid) != "PASS":
            continue
        if kills(mutant.alerts, verdicts[sid], j.get("reasons", [])):
            return "killed", f"{sid}: {j['reasons'][0][:160]}"
    if verdicts and all(v == "PASS" for v in verdicts.values()):
        return "survived", ""

    def why(sid: str, v: str) -> str:
        said = f"{sid} {v}: {(journals[sid].get('reasons') or [''])[0][:120]}"
        if baseline is not None and baseline.get(sid) != "PASS":
            said += f" (and {baseline.get(sid, 'no verdict')} on the config as it is: it judges no mutant)"
        return said

    return "error", "; ".join(why(sid, v) for sid, v in verdicts.items() if v != "PASS") or "no drill ran"


def caught_by(mutant: Mutant, cat: Catalog) -> str:
    """For a survivor: what would have caught it."""
    slas = [cat.slas[a] for a in mutant.alerts if a in cat.slas]
    if mutant.delay and slas:
        return (f"it delays the page by {mutant.delay:g}s and the SLA of {max(slas):g}s did not catch it: a "
                "drill whose SLA is under the rule's floor plus that delay would")
    if mutant.operator in ("severity changed", "severity dropped", "receiver swapped", "matcher changed"):
        return "the page still reached the expected receiver: no route tells the labels apart for this alert"
    if mutant.gated:
        return ("the comparison changed is the last side of an `and`, and the other side, unchanged, held the rule "
                "as before: a drill whose fault moves this side's series and not the other's would tell them apart")
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


@dataclass
class Run:
    results: list[Result]
    seconds: float
    baseline: dict[str, str] = field(default_factory=dict)
    """Each covering drill's verdict on the config as it is."""
    scales: dict[str, float] = field(default_factory=dict)
    """The drills run at a time scale of their own (the long ones), each with its scale."""

    def counts(self) -> dict[str, int]:
        return {o: sum(1 for r in self.results if r.outcome == o) for o in OUTCOMES}

    @property
    def score(self) -> float | None:
        c = self.counts()
        judged = c["killed"] + c["survived"] + c["error"]
        return 100.0 * c["killed"] / judged if judged else None

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "counts": self.counts(), "seconds": round(self.seconds, 1),
                "baseline": self.baseline, "scales": self.scales, "mutants": [r.as_dict() for r in self.results]}


LONG_DRILL = 120.0
"""Seconds of wall time (a drill's ``length_bound`` at the run's scale) past which it runs at the long scale."""


def scale_classes(cat: Catalog, drilled: list[str], scale: float, long_scale: float | None) -> dict[str, float | None]:
    """Each drilled scenario's time scale: ``long_scale`` for those longer than ``LONG_DRILL`` at ``scale``, on
    labs of their own; None (the run's) for the others."""
    if not long_scale or long_scale == scale:
        return {s: None for s in drilled}
    return {s: long_scale if cat.length.get(s, 0.0) / scale > LONG_DRILL else None for s in drilled}


def mutate(root: Path, config_dir: Path, scenarios_dir: Path, work: Path, select: str | list[str] | None = None,
           scale: float = 60.0, say: Any = print, workers: int = 2, batch: int | None = None,
           stack: Stack | None = None, extra: list[str] | None = None, long_scale: float | None = None) -> Run:
    """Every mutant (those whose id contains, or whose alerts include, one of ``select``, where given), judged:
    the invalid and the uncovered at once, the others drilled by ``workers`` sessions side by side
    (``gameday.mutate.workers``; ``batch``: mutants per session, a fresh lab each, instead of one per worker), on
    ``stack`` (the lab's by default; a team's shadow pair), each session with ``extra`` pytest arguments. The
    drills longer than ``LONG_DRILL`` run at ``long_scale`` where given, on labs of that scale, their baseline
    too (``scale_classes``)."""
    t0 = time.monotonic()
    cat = catalog(root, config_dir, scenarios_dir)
    picks = [select] if isinstance(select, str) else list(select or [])
    mutants = [m for m in mutants_of(root, config_dir, cat)
               if not picks or any(k in m.id or k in m.alerts for k in picks)]
    results: dict[str, Result] = {}
    jobs: list[Job] = []
    covered: dict[str, tuple[Mutant, list[str], Path]] = {}

    def report(res: Result) -> None:
        results[res.mutant.id] = res
        why = f"  ({res.why[:100]})" if res.why else ""
        say(f"[{len(results)}/{len(mutants)}] {res.outcome.upper():9} {res.mutant.diff}{why}")

    for m in mutants:  # a mutant's shortest drills first: the first that kills it spares the others
        scenarios = covering(m, cat)
        if (bad := invalid(m, config_dir, root)) is not None:
            report(Result(m, "invalid", why=bad))
        elif (same := equivalent(m, config_dir, cat)) is not None:
            report(Result(m, "equivalent", why=same))
        elif not scenarios:
            quiet = " or lists it as quiet" if m.part == "rule" else ""
            report(Result(m, "uncovered", why=f"no scenario expects {', '.join(m.alerts) or 'an alert it takes'}"
                                                f"{quiet}"))
        else:
            covered[m.id] = (m, scenarios, m.apply(config_dir, work / "mutants" / m.id.replace(":", "-") / "config"))

    # the config as it is, first: each covering drill once, on the same labs; a drill that does not pass there
    # cannot say anything of a mutant
    drilled = sorted({s for _, sids, _ in covered.values() for s in sids}, key=lambda s: (-cat.length[s], s))
    scales = scale_classes(cat, drilled, scale, long_scale)
    parts: dict[str, list[Job]] = {}
    for m, scenarios, copy in covered.values():  # one job per scale class of its drills, in their order
        for k in dict.fromkeys(scales[s] for s in scenarios):
            parts.setdefault(m.id, []).append(Job(m, [s for s in scenarios if scales[s] == k], copy, scale=k))
    jobs = [j for js in parts.values() for j in js]
    original = work / "mutants" / "original" / "config"
    shutil.rmtree(original, ignore_errors=True)
    if jobs:
        shutil.copytree(config_dir, original)
    base_jobs = [Job(Mutant(f"{ORIGINAL}@{sid}", ORIGINAL, "none", "the config as it is", "", "", []), [sid],
                     original, scale=scales[sid]) for sid in drilled]
    baseline: dict[str, str] = {}
    waiting: list[Job] = []

    def judged(job: Job) -> None:
        if job.mutant.part == ORIGINAL:
            (sid,) = job.scenarios
            got = job.verdicts[sid]
            baseline[sid] = str(got.get("verdict", "ERROR"))
            if baseline[sid] != "PASS":
                say(f"the config as it is: {sid} {baseline[sid]}: {(got.get('reasons') or [''])[0][:160]}; "
                    "it judges no mutant")
            for ready in [w for w in waiting if all(s in baseline for s in w.scenarios)]:
                waiting.remove(ready)
                judged(ready)
            return
        if not all(s in baseline for s in job.journals()):
            waiting.append(job)
            return
        journals = job.journals()
        outcome, why = judge(job.mutant, journals, baseline)
        report(Result(job.mutant, outcome, {s: str(j.get("verdict", "ERROR")) for s, j in journals.items()},
                      why if outcome != "survived" else caught_by(job.mutant, cat), job.seconds))

    back: dict[str, list[Job]] = {}

    def arrived(job: Job) -> None:
        """A job handed back: a mutant drilled in two scale classes is judged once both are in."""
        mine = parts.get(job.mutant.id, [job])
        if len(mine) > 1:
            back.setdefault(job.mutant.id, []).append(job)
            if len(back[job.mutant.id]) < len(mine):
                return
            job = Job(job.mutant, [s for j in mine for s in j.scenarios], job.config,
                      {sid: v for j in mine for sid, v in j.verdicts.items()})
        judged(job)

    if jobs:  # the mutants with the longest drills first, so that no worker is left with one at the end; a long
        # part of a mutant with short drills too comes after the rest of its class: a short drill may kill it first
        jobs.sort(key=lambda j: (j.scale is not None and len(parts[j.mutant.id]) > 1,
                                 -sum(cat.length[s] / (j.scale or scale) for s in j.scenarios)))
        drill_all(base_jobs + jobs, root, scenarios_dir, work, scale, workers, arrived, batch, original, stack,
                  extra)
    for job in list(waiting):  # a baseline drill without a verdict: it judges no mutant either
        for sid in job.scenarios:
            baseline.setdefault(sid, "ERROR")
        waiting.remove(job)
        judged(job)
    run = Run([results[m.id] for m in mutants if m.id in results], time.monotonic() - t0)
    run.baseline = baseline
    run.scales = {s: k for s, k in scales.items() if k is not None}
    return run
