"""One picture per drill, from its journal alone (matplotlib, no display needed).

Top to bottom, on one time axis (seconds into the drill): each expected alert's expression against
its threshold; the state of every watched alert (pending, firing); the service's SLIs
(``config/report.yaml``); Locust's users, requests and failures per second. The fault's window is
shaded on every panel; inject, firing, page, mitigated and resolved are marked; the SLA and the
MTTR goal are drawn as deadlines from the moment of the fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARKS = [  # (mark, label, colour)
    ("t_inject", "inject", "#222222"),
    ("t_firing", "firing", "#e07b00"),
    ("t_notified", "page", "#c00000"),
    ("t_mitigated", "mitigated", "#1f5fbf"),
    ("t_resolved", "resolved", "#2a8a2a"),
]
STATE_COLOURS = {"pending": "#f2c14e", "firing": "#d64545"}


def _lines(ax: Any, data: dict[str, Any], label: str | None = None) -> bool:
    """Draw a range query's series; False when it has none (an error or no data)."""
    drawn = False
    for s in data.get("series", []):
        pts = [(t, v) for t, v in s["points"] if v is not None]
        if not pts:
            continue
        name = label or ",".join(f"{k}={v}" for k, v in s["labels"].items() if k not in ("__name__", "job",
                                                                                         "instance")) or None
        ax.plot([t for t, _ in pts], [v for _, v in pts], linewidth=1.4, label=name)
        drawn = True
    if not drawn:
        why = data.get("error") or "no data in the drill's window"
        ax.text(0.5, 0.5, why[:90], transform=ax.transAxes, ha="center", va="center", fontsize=8, color="#777777")
    return drawn


def _fault_window(journal: dict[str, Any]) -> tuple[float, float] | None:
    marks = {k: v["t"] for k, v in journal.get("marks", {}).items()}
    if "t_inject" not in marks:
        return None
    end = marks.get("t_mitigated") or next((p["end"] for p in journal.get("phases", []) if p["phase"] == "recover"),
                                           None)
    return marks["t_inject"], end if end is not None else marks["t_inject"]


def render(journal: dict[str, Any], out: Path) -> Path | None:
    """Write the drill's PNG to ``out``; None when the journal has nothing to draw (a drill stopped in preflight)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = journal.get("series") or {}
    if not data or "error" in data and len(data) == 1:
        return None
    expected = list(journal.get("alerts", {}))
    rule_alerts = [a for a in expected if a in data.get("rules", {})]
    panels = data.get("panels", [])
    load = journal.get("load", {}).get("history") or []
    rows = len(rule_alerts) + 1 + len(panels) + (1 if load else 0)
    heights = [2.2] * len(rule_alerts) + [0.35 + 0.3 * max(1, len(data.get("rules", {})))] + [1.6] * len(panels) \
        + ([1.6] if load else [])
    fig, axes = plt.subplots(rows, 1, figsize=(11, sum(heights) + 1.3), sharex=True,
                             gridspec_kw={"height_ratios": heights})
    axes = list(axes) if rows > 1 else [axes]
    scale = journal.get("time_scale", 1)
    verdict = journal.get("verdict", "?")
    fig.suptitle(f"{journal.get('scenario')}: {journal.get('title')} ({verdict}, time scale {scale:g})",
                 fontsize=11, x=0.01, ha="left")

    i = 0
    for alert in rule_alerts:
        ax = axes[i]
        i += 1
        drawn_thresholds: set[float] = set()
        for cond in data["rules"][alert]:
            text = " ".join(str(cond.get("query", "")).split())
            _lines(ax, cond, label=text if len(text) <= 60 else text[:57] + "...")
            if (threshold := cond.get("threshold")) is not None and threshold not in drawn_thresholds:
                drawn_thresholds.add(threshold)
                ax.axhline(threshold, linestyle="--", linewidth=1, color="#c00000",
                           label=f"fires when {cond.get('op') or '?'} {threshold:g}")
        ax.set_title(f"{alert}: its expression against its threshold", fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="upper left")

    ax = axes[i]
    i += 1
    names = sorted(data.get("rules", {}), key=lambda a: (a not in expected, a))
    states = data.get("alert_states", {}).get("series", [])
    for row, alert in enumerate(names):
        for s in states:
            if s["labels"].get("alertname") != alert:
                continue
            colour = STATE_COLOURS.get(s["labels"].get("alertstate", ""), "#999999")
            ts = [t for t, v in s["points"] if v]
            step = data.get("step", 0.25)
            for t in ts:
                ax.broken_barh([(t - step / 2, step)], (row - 0.35, 0.7), color=colour, linewidth=0)
    ax.set_yticks(range(len(names)), [f"{a}{'' if a in expected else ' (quiet)'}" for a in names], fontsize=7)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_title("alert states (amber: pending, red: firing)", fontsize=9, loc="left")

    for panel in panels:
        ax = axes[i]
        i += 1
        _lines(ax, panel, label=None)
        ax.set_title(f"{panel.get('title')} ({panel.get('unit')})", fontsize=9, loc="left")

    if load:
        ax = axes[i]
        ts = [p["t"] for p in load]
        ax.plot(ts, [p["rps"] for p in load], label="requests/s", linewidth=1.4)
        ax.plot(ts, [p["failures"] for p in load], label="failures/s", linewidth=1.4, color="#c00000")
        twin = ax.twinx()
        twin.step(ts, [p["users"] for p in load], where="post", color="#777777", linewidth=1, label="users")
        twin.set_ylabel("users", fontsize=7)
        twin.set_ylim(0, max(p["users"] for p in load) * 1.15 + 1)
        twin.tick_params(labelsize=7)
        ax.set_title("load (Locust, reported once a second)", fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="upper left")

    window = _fault_window(journal)
    marks = {k: v["t"] for k, v in journal.get("marks", {}).items()}
    goals = journal.get("goals", {})
    for ax in axes:
        if window:
            ax.axvspan(*window, color="#d64545", alpha=0.08, linewidth=0)
        for mark, _, colour in MARKS:
            if mark in marks:
                ax.axvline(marks[mark], color=colour, linewidth=1, alpha=0.8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
    top = axes[0]
    left, right = data.get("start", 0.0), data.get("end", 1.0)
    right += (right - left) * 0.04
    for n, (mark, label, colour) in enumerate(m for m in MARKS if m[0] in marks):
        top.annotate(label, (marks[mark], 1.0), xycoords=("data", "axes fraction"), xytext=(2, 2 + 8 * (n % 3)),
                     textcoords="offset points", fontsize=7, color=colour)
    first = expected[0] if expected else None
    # the SLA runs from the fault to the page; the MTTR goal from the page to the resolution
    for key, start, label, colour in ((f"sla:{first}", "t_inject", "SLA", "#c00000"),
                                      ("mttr", "t_notified", "MTTR goal", "#1f5fbf")):
        if (goal := goals.get(key)) is not None and start in marks:
            deadline = marks[start] + goal
            if deadline > right:  # far beyond the drill: said at the edge rather than squeezing the drill
                top.annotate(f"{label} {goal:g}s: at {deadline:.0f}s, beyond the right edge", (1.0, 0.02 + 0.1 *
                             (label == "SLA")), xycoords="axes fraction", ha="right", fontsize=7, color=colour)
                continue
            for ax in axes:
                ax.axvline(deadline, color=colour, linestyle=":", linewidth=1.2)
            top.annotate(f"{label} {goal:g}s", (deadline, 0.02), xycoords=("data", "axes fraction"),
                         xytext=(2, 2), textcoords="offset points", fontsize=7, color=colour)
    axes[-1].set_xlim(left, right)
    axes[-1].set_xlabel("seconds into the drill" + (f" (time scale {scale:g}: 1 s here is {scale:g} s in real time)"
                                                      if scale != 1 else ""), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


TREND = [("ttd", "TTD", "#e07b00", "o"), ("ttn", "TTN", "#c00000", "s"), ("mttr", "MTTR", "#1f5fbf", "^")]


def render_trend(journal: dict[str, Any], out: Path) -> Path | None:
    """TTD, TTN and MTTR of each expected alert over the scenario's recent drills and this one, with the SLA and
    the MTTR goal as lines; from the journal's ``trends`` alone. None when no alert has an earlier drill."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trends = {a: t for a, t in (journal.get("trends") or {}).items() if t.get("runs")}
    if not trends:
        return None
    scale = journal.get("time_scale", 1) or 1
    fig, axes = plt.subplots(len(trends), 1, figsize=(8, 2.6 * len(trends) + 0.6), squeeze=False)
    fig.suptitle(f"{journal.get('scenario')}: times over its recent drills (time scale {scale:g})",
                 fontsize=10, x=0.01, ha="left")
    for ax, (alert, trend) in zip((row[0] for row in axes), trends.items(), strict=True):
        this = (journal.get("alerts", {}).get(alert) or {}).get("timings") or {}
        runs = [*trend["runs"], {"started": journal.get("started", ""), "verdict": journal.get("verdict"), **this}]
        xs = list(range(len(runs)))
        for key, label, colour, marker in TREND:
            pts = [(x, r.get(key)) for x, r in zip(xs, runs, strict=True) if isinstance(r.get(key), (int, float))]
            if pts:  # TTD is drawn last and smaller: it often sits just under TTN
                ax.plot([x for x, _ in pts], [v for _, v in pts], marker=marker, color=colour, linewidth=1.2,
                        label=label, markersize=4 if key == "ttd" else 6, zorder=3 if key == "ttd" else 2)
        sla = (journal.get("alerts", {}).get(alert) or {}).get("sla")
        goal = (journal.get("goals") or {}).get("mttr")
        if sla is not None:
            ax.axhline(sla, color="#c00000", linestyle=":", linewidth=1.2, label=f"SLA {sla:g}s")
        if goal is not None:
            ax.axhline(goal, color="#1f5fbf", linestyle=":", linewidth=1.2, label=f"MTTR goal {goal:g}s")
        ax.set_xticks(xs, [f"{str(r['started'])[5:16].replace('T', ' ')}\n{r.get('verdict') or '?'}"
                           for r in runs[:-1]] + ["this drill\n" + str(journal.get("verdict"))], fontsize=7)
        highest = max([v for r in runs for k, *_ in TREND if isinstance(v := r.get(k), (int, float))]
                      + [x for x in (sla, goal) if x is not None] + [1.0])
        ax.set_ylim(0, highest * 1.18)  # room above the highest line for the legend
        ax.set_ylabel("seconds (drill clock)", fontsize=7)
        title = f"{alert}"
        if trend.get("regression"):
            title += f": regression, {trend['regression']}"
        ax.set_title(title if len(title) <= 110 else title[:107] + "...", fontsize=8, loc="left",
                     color="#c00000" if trend.get("regression") else "black")
        ax.legend(fontsize=7, loc="upper left", ncol=5)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
