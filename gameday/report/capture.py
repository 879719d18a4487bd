"""What the plots and the review are drawn from, kept in the journal so they render offline.

At the end of a drill, while its Prometheus is still up, range queries over the drill's window
(``prometheus-api-client``, with the harness's own credentials and TLS settings) fetch:

- each expected and quiet alert's expression, without its comparison, beside its threshold: the
  picture of a rule crossing its line (every condition of an ``and``, each with its own threshold);
- each alert's state over time (``ALERTS``: pending, firing);
- the panels of ``config/report.yaml``: the service's SLIs (error ratio, p99 latency, request rate).

Locust's own history (users, requests and failures per second) comes from its CSV. Times are on the
drill's clock (seconds since it began), like every mark. A query that fails is recorded with its
error instead of its points: a missing picture says why.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from gameday.scenario.inputs import read_text_bounded

MAX_POINTS = 400


def _connect(prometheus: Any) -> Any:
    from prometheus_api_client import PrometheusConnect

    own = prometheus._http  # the harness's session: its credentials and TLS settings, copied, not shared
    session = requests.Session()
    session.headers.update(own.headers)
    session.auth, session.verify, session.cert = own.auth, own.verify, own.cert
    return PrometheusConnect(url=prometheus.base_url, session=session, timeout=10)


def split_comparison(query: str) -> list[tuple[str, str | None, float | None]]:
    """``expr > θ`` as (expr, ">", θ); each side of an ``and``; anything else as (query, None, None)."""
    import promql_parser

    def walk(node: Any) -> list[tuple[str, str | None, float | None]]:
        while type(node).__name__ == "ParenExpr":
            node = node.expr
        op = str(getattr(node, "op", "")).strip().lower()
        if type(node).__name__ == "BinaryExpr" and op == "and":
            return walk(node.lhs) + walk(node.rhs)
        if type(node).__name__ == "BinaryExpr" and op in (">", ">=", "<", "<=", "==", "!="):
            from gameday.pipeline.detection import _const

            threshold = _const(node.rhs)
            if threshold is not None:
                return [(_text(node.lhs), op, threshold)]
        return [(_text(node), None, None)]

    def _text(node: Any) -> str:
        return str(node).replace("{}", "")  # the parser writes a bare selector as `name{}`

    try:
        return walk(promql_parser.parse(query))
    except (ValueError, TypeError, AttributeError):
        return [(query, None, None)]


def panels_config(config_dir: Path | None) -> list[dict[str, Any]]:
    """``config/report.yaml``'s panels; none when it is missing or unreadable (the plots then show the rules)."""
    if config_dir is None:
        return []
    try:
        data = yaml.safe_load(read_text_bounded(config_dir / "report.yaml"))
        return [p for p in data.get("panels", []) if isinstance(p, dict) and p.get("query") and p.get("title")]
    except (OSError, yaml.YAMLError, AttributeError):
        return []


def capture(prometheus: Any, clock: Any, start: float, end: float, rules: dict[str, Any], alerts: list[str],
            panels: list[dict[str, Any]], scrape_interval: float) -> dict[str, Any]:
    """Range data for the drill's window ``[start, end]`` (drill clock), as the journal keeps it."""
    span = max(end - start, scrape_interval)
    step = max(scrape_interval, span / MAX_POINTS)
    window = f"{max(10 * scrape_interval, 4 * step) * 1000:.0f}ms"  # smooth enough to read, short enough to follow
    t0, t1 = (datetime.fromtimestamp(clock.to_wall(t), tz=UTC) for t in (start, end))
    try:
        prom = _connect(prometheus)
    except Exception as exc:  # noqa: BLE001 - a missing picture must not cost the verdict
        return {"error": f"{type(exc).__name__}: {exc}"}

    def series(query: str) -> dict[str, Any]:
        try:
            rows = prom.custom_query_range(query, start_time=t0, end_time=t1, step=f"{step:.3f}")  # seconds
        except Exception as exc:  # noqa: BLE001
            return {"query": query, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        out = []
        for row in rows[:20]:
            points = [[round(clock.from_wall(float(ts)), 3), float(v)] for ts, v in row.get("values", [])]
            out.append({"labels": row.get("metric", {}),
                        "points": [[t, v if math.isfinite(v) else None] for t, v in points]})
        return {"query": query, "series": out}

    data: dict[str, Any] = {"start": start, "end": end, "step": step, "rules": {}, "panels": []}
    for alert in alerts:
        rule = rules.get(alert)
        if rule is None:
            continue
        data["rules"][alert] = [series(expr) | {"op": op, "threshold": threshold}
                                for expr, op, threshold in split_comparison(rule.query)]
    names = "|".join(alerts)
    if names:
        data["alert_states"] = series(f'ALERTS{{alertname=~"{names}"}}')
    for panel in panels:
        data["panels"].append(series(str(panel["query"]).replace("$window", window))
                              | {"title": panel["title"], "unit": panel.get("unit", "")})
    return data


def locust_history(csv_prefix: Path, clock: Any, since: float | None = None,
                   reset_at: float | None = None) -> list[dict[str, float]]:
    """Locust's once-a-second report: users, requests and failures per second, on the drill clock, from
    ``since`` on (a Locust that serves the whole session reports from before the drill).

    Each row's rate is its counts' change since the row before it, read from before ``since`` too. Where the
    counts start again (a drill reset Locust's statistics at ``reset_at``, drill clock), the row after the
    reset counts from the reset itself; a reset at an unknown time leaves that row out."""
    from gameday.load.locust import csv_rows

    rows = csv_rows(Path(f"{csv_prefix}_stats_history.csv")) or []
    out, last = [], None
    for row in rows:
        if row.get("Name") != "Aggregated":
            continue
        try:
            t = clock.from_wall(float(row["Timestamp"]))
            total, failed = float(row["Total Request Count"]), float(row["Total Failure Count"])
            users = float(row["User Count"])
        except (KeyError, TypeError, ValueError):
            continue
        if last is not None and total < last[1]:  # its statistics were reset (a new drill's window)
            last = (reset_at, 0.0, 0.0) if reset_at is not None and last[0] <= reset_at < t else None
        if last is not None and t > last[0] and (since is None or t >= since):
            dt = t - last[0]
            out.append({"t": round(t, 3), "users": users, "rps": (total - last[1]) / dt,
                        "failures": (failed - last[2]) / dt})
        last = (t, total, failed)
    return out
