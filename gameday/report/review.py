"""A drill review for a run, in the shape of an incident review: drawn from the journals alone.

``gameday report`` picks the newest run's journals (or the run it is given), and writes
``review.md`` and ``review.html`` (Jinja2 templates in ``templates/``) with each drill's plot beside
them: a row per drill for the whole run, then per drill a summary, its times against their goals
(with real-time equivalents), its SLO impact in the terms of the error budget policy, the timeline
(time, event, actor), what failed and the action item each failure implies, and its runbook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.core.durations import human
from gameday.core.verdict import VERDICTS, Verdict
from gameday.report.debrief import debrief_lines

ACTORS = {"t_firing": "Prometheus", "t_firing_seen": "Prometheus", "t_notified": "Alertmanager",
          "t_notified_seen": "Alertmanager", "t_resolved": "Alertmanager", "t_inject": "harness (fault)",
          "t_mitigated": "harness (revert) or platform", "t_steady": "Locust",
          "t_alerting_reset": "harness (clean slate)"}
EVENTS = {"t_steady": "baseline load flowing", "t_inject": "fault injected", "t_firing": "alert firing",
          "t_firing_seen": "harness saw it firing", "t_notified": "page delivered",
          "t_notified_seen": "harness received the page", "t_mitigated": "mitigated",
          "t_resolved": "resolved page delivered", "t_alerting_reset": "clean slate: Prometheus and Alertmanager "
                                                                      "restarted"}
ACTIONS = [  # (a failure's reason, the action item it implies)
    (r"never fired", "The alert cannot see this fault: check its expression, threshold and `for` against the "
                     "plot's line, and whether the metric it reads exists on this target."),
    (r"but no page reached", "The rule fires but nobody hears it: check Alertmanager's route, receiver and "
                             "inhibitions for this alert's labels."),
    (r"instead of|route to", "The page goes to the wrong people: fix the route for this alert's labels."),
    (r"beyond its SLA", "The page comes too late for its SLA: shorten `for` or the rate window, lower "
                        "`group_wait`, or agree a new SLA on purpose."),
    (r"not resolved within|beyond its MTTR goal", "Recovery is slower than its goal: look at the runbook's "
                                                  "mitigation steps and at what the platform restarts by itself."),
    (r"must stay quiet fired", "A symptom alert fires for the wrong cause: tighten that rule, or it will page "
                               "people to the wrong runbook."),
    (r"preflight", "The drill was refused before any fault: fix the scenario or the configuration it names."),
    (r"mitigation '[^']*', (step \d+ of|all \d+ step)", "The runbook is wrong: the on-call would have run this "
                                                         "command during the incident. Fix the step (or the "
                                                         "mitigation) in the runbook and drill it again."),
    (r"regression \(", "The alert got slower than its recent drills: compare its rule, the scrape and evaluation "
                      "intervals and Alertmanager's timers with the last passing drill's; if the change was meant, "
                      "the new times become the median after a few drills."),
]


def timeline_rows(journal: dict[str, Any]) -> list[dict[str, str]]:
    """Time, event and actor for each mark, note and failed phase, in time order."""
    scale = journal.get("time_scale", 1) or 1
    rows = []
    for e in sorted(journal.get("events", []), key=lambda e: e.get("t", 0.0)):
        kind = e.get("event")
        if kind == "mark":
            name = str(e.get("name"))
            if name.endswith("_seen"):
                continue  # when the harness noticed: a diagnosis of its timestamps, kept in the journal
            what = EVENTS.get(name, name)
            if e.get("detail") and e["detail"] != what:
                what += f": {e['detail']}"
            if e.get("alert") and e["alert"] not in what:
                what += f" ({e['alert']})"
            actor = ACTORS.get(name, "harness")
        elif kind == "phase_ended" and e.get("error"):
            what, actor = f"phase {e.get('phase')} ended: {e.get('error')}", "harness"
        elif kind == "note":
            what = str(e.get("note", ""))
            actor = ("runbook (run by the harness)" if what.startswith("runbook ") else
                     "trainee" if what.startswith("shadow: the trainee") else "harness")
        else:
            continue
        t = float(e.get("t", 0.0))
        rows.append({"time": human(t), "real": human(t * scale) if scale != 1 else "", "event": what, "actor": actor})
    return rows


@dataclass(frozen=True)
class Slo:
    objective: float = 99.5
    window_days: float = 30.0


def slo_of(config_dir: Path) -> Slo:
    """The first SLO of ``slo.yaml`` (its objective and window), or the seed's 99.5% over 30 days."""
    import yaml

    try:
        first = yaml.safe_load((config_dir / "slo.yaml").read_text())["slos"][0]
        days = float(str(first.get("window", "30d")).rstrip("d"))
        return Slo(float(first["objective"]), days)
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Slo()


def slo_impact(journal: dict[str, Any], slo: Slo) -> dict[str, Any] | None:
    """What the drill's failed requests would cost at real speed: the share of the window's error budget spent.

    The drill's requests and failures (Locust's) over its span in real time, against the budget the objective
    allows over its window at the drill's request rate: (failed / requests) x (span / window) / (1 - objective).
    """
    load, marks = journal.get("load", {}), journal.get("marks", {})
    requests, failures = load.get("requests"), load.get("failures")
    if not requests or failures is None or "t_steady" not in marks:
        return None
    end = max(v["t"] for v in marks.values())
    span_real = (end - marks["t_steady"]["t"]) * (journal.get("time_scale", 1) or 1)
    budget = 1 - slo.objective / 100
    spent = (failures / requests) * (span_real / (slo.window_days * 86400)) / budget if budget > 0 else 0.0
    from gameday.target.errorbudget import state_of

    return {"failed": failures, "requests": requests, "span_real": human(span_real), "spent_pct": spent * 100,
            "state_after": state_of(max(0.0, 1 - spent)), "objective": slo.objective, "window_days": slo.window_days}


def action_items(journal: dict[str, Any]) -> list[str]:
    if journal.get("verdict") == Verdict.ERROR:
        return ["The drill did not reach a verdict on the alert: fix what stopped it (the reason names the "
                "component) and run it again before drawing any conclusion."]
    items = []
    for reason in journal.get("reasons", []):
        items += [action for pattern, action in ACTIONS if re.search(pattern, reason) and action not in items][:1]
    return items


def load_run(reports: Path, run: str | None = None) -> tuple[str | None, list[dict[str, Any]], list[str]]:
    """The journals of one run (the newest when ``run`` is None), in time order; and files that were skipped."""
    journals, skipped, old = [], [], 0
    for path in sorted((reports / "drills").glob("*.json")):
        try:
            j = json.loads(path.read_text())
        except (OSError, ValueError):
            skipped.append(f"{path.name}: unreadable")
            continue
        if not isinstance(j, dict) or not isinstance(j.get("schema"), int) or j["schema"] < 2:
            old += 1
            continue
        if not isinstance(j.get("started"), str) or not isinstance(j.get("scenario"), str) \
                or not isinstance(j.get("alerts", {}), dict) or not isinstance(j.get("events", []), list):
            skipped.append(f"{path.name}: not a drill journal (no scenario or start time)")
            continue
        j["_path"] = str(path)
        journals.append(j)
    if old:
        skipped.append(f"{old} journal(s) written by an older gameday (before schema 2)")
    if not journals:
        return None, [], skipped
    runs = sorted({j.get("run", "") for j in journals}, key=lambda r: max(j["started"] for j in journals
                                                                            if j.get("run", "") == r))
    chosen = run if run is not None else runs[-1]
    return chosen, sorted((j for j in journals if j.get("run", "") == chosen), key=lambda j: j["started"]), skipped


def trend_view(trend: dict[str, Any]) -> dict[str, Any]:
    history = trend.get("history") or []
    median = trend.get("median")
    return {"trend": f"{human(median)} over {len(history)}" if median is not None else "no earlier drill",
            "regression": trend.get("regression")}


def drill_view(j: dict[str, Any], out: Path | None, root: Path, slo: Slo) -> dict[str, Any]:
    """What the templates show for one drill. Its plots are copied beside the review into ``out``; with no
    ``out`` (a page that travels alone, such as an Allure attachment) they are inlined and links are absolute."""
    scale = j.get("time_scale", 1) or 1
    alerts = []
    for name, a in j.get("alerts", {}).items():
        t, sla, goal = a.get("timings", {}), a.get("sla"), j.get("goals", {}).get("mttr")
        alerts.append({"name": name, "receiver": a.get("receiver"), "ttd": human(t.get("ttd")),
                       "ttn": human(t.get("ttn")), "sla": human(sla), "met": a.get("sla_met"),
                       "mttr": human(t.get("mttr")), "goal": human(goal),
                       "mttr_met": None if t.get("mttr") is None or goal is None else t["mttr"] <= goal,
                       "ttn_real": human(t["ttn"] * scale) if t.get("ttn") is not None else "-",
                       "sla_real": human(sla * scale) if sla is not None else "-",
                       "mttr_real": human(t["mttr"] * scale) if t.get("mttr") is not None else "-",
                       "goal_real": human(goal * scale) if goal is not None else "-",
                       "expected": human(a.get("expected_ttn")) if a.get("expected_ttn") is not None else None,
                       **trend_view((j.get("trends") or {}).get(name) or {})})
    plot, trend_plot = (copy_plot(j.get(key), out) if out is not None else inline_png(j.get(key))
                        for key in ("plot", "trend_plot"))
    runbook = (root / j.get("runbook", "")).resolve()
    return {"id": j.get("scenario"), "title": j.get("title"), "priority": j.get("priority"),
            "verdict": j.get("verdict"), "reasons": j.get("reasons", []), "started": j.get("started"),
            "scale": scale, "fault": j.get("fault", {}).get("description", "-"), "alerts": alerts,
            "pages": (j.get("pages") or {}).get("level"), "cautions": j.get("cautions") or [],
            "timeline": timeline_rows(j), "impact": slo_impact(j, slo), "actions": action_items(j),
            "runbook": j.get("runbook"), "runbook_href": link(runbook, out) if runbook.is_file() else None,
            "plot": plot, "trend_plot": trend_plot, "stack": j.get("stack", {}), "timer_lag": j.get("timer_lag", {}),
            "journal": link(Path(j["_path"]), out) if j.get("_path") else None,
            "debrief": debrief_lines(j["shadow"]) if j.get("shadow") else []}


def link(path: Path, out: Path | None) -> str:
    """A link to a file: relative to the page's folder, or an absolute file URI for a page that travels alone."""
    return os.path.relpath(path, out) if out is not None else path.resolve().as_uri()


def inline_png(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    import base64

    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                       autoescape=select_autoescape(["html", "html.j2"]), trim_blocks=True, lstrip_blocks=True)


def drill_page(journal: dict[str, Any], root: Path, config: Path | None = None) -> str:
    """One drill's section of the review as a page of its own, plots inlined: the drill's Allure attachment."""
    d = drill_view(journal, None, root, slo_of(config or root / "config"))
    return templates().get_template("drill_page.html.j2").render(d=d)


def copy_plot(path: str | None, out: Path) -> str | None:
    """A drill's PNG copied into the review's ``plots`` folder, so the review travels whole; its link there."""
    if not path or not Path(path).is_file():
        return None
    (out / "plots").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, out / "plots" / Path(path).name)
    return f"plots/{Path(path).name}"


def mutation_view(reports: Path) -> dict[str, Any] | None:
    """``gameday mutate``'s last result (``REPORTS/mutate.json``), for the review: the score, the counts, the
    drills that failed on the config as it is, and each survivor and error with its reason; None without one."""
    path = reports / "mutate.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("mutants"), list):
        return None
    score = data.get("score")
    pick = [m for m in data["mutants"] if isinstance(m, dict) and m.get("outcome") in ("survived", "error")]
    return {"score": "n/a" if score is None else f"{score:.0f}%", "counts": data.get("counts") or {},
            "seconds": data.get("seconds"), "file": str(path),
            "baseline_failing": {s: v for s, v in (data.get("baseline") or {}).items() if v != "PASS"},
            "open": [{"outcome": m.get("outcome"), "diff": m.get("diff"), "why": m.get("why")} for m in pick]}


def write_review(reports: Path, out: Path, root: Path, run: str | None = None) -> tuple[Path, Path] | None:
    """Write ``review.md`` and ``review.html`` for a run into ``out`` (with ``gameday mutate``'s last result where
    there is one); None when there is neither a journal nor a mutation result to review."""
    chosen, journals, skipped = load_run(reports, run)
    mutation = mutation_view(reports)
    if not journals and mutation is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    slo = slo_of(root / "config")
    drills = [drill_view(j, out, root, slo) for j in journals]
    context = {"run": chosen, "drills": drills, "skipped": skipped, "slo": slo, "mutation": mutation,
               "counts": {v: sum(d["verdict"] == v for d in drills) for v in VERDICTS}}
    env = templates()
    md, html = out / "review.md", out / "review.html"
    md.write_text(env.get_template("review.md.j2").render(**context))
    html.write_text(env.get_template("review.html.j2").render(**context))
    return md, html
