"""Whether a page is real: its twin in the monitoring stack the drill watches.

The receiver already refuses a POST without the run's secret (``gameday.observe.receiver``). A page that carries it must
still agree with the stack before it counts: a firing page with the alert that Alertmanager holds under the same
fingerprint and ``startsAt``, after Prometheus showed the alert firing; a resolved page only once Prometheus and
Alertmanager both no longer hold the alert. A page that does not agree is refused, and the refusal is recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from gameday.core.clock import parse_rfc3339

STARTS_AT_SLACK = 0.01
"""Seconds two readings of one ``startsAt`` may differ by: the webhook has nanoseconds, the API milliseconds."""


class _Prometheus(Protocol):
    def query(self, expr: str) -> list[dict[str, Any]]: ...

    def alerts(self) -> list[Any]: ...


class _Alertmanager(Protocol):
    def active_alerts(self, name: str) -> list[dict[str, Any]]: ...


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _labels_agree(series: dict[str, str], page: dict[str, str]) -> bool:
    """Prometheus's view of an alert's labels within the page's (which may add the external labels)."""
    own = {k: v for k, v in series.items() if k not in ("__name__", "alertstate")}
    return all(page.get(k) == v for k, v in own.items())


@dataclass
class PageCheck:
    """Checks pages against the Prometheus and Alertmanager the drill watches."""

    prometheus: _Prometheus
    alertmanager: _Alertmanager
    refused: list[dict[str, Any]] = field(default_factory=list)
    """Each page that did not agree with the stack: when it arrived (drill clock), where, and why."""
    _seen: dict[tuple[int, str, str], str | None] = field(default_factory=dict)

    def firing(self, note: Any, alert: dict[str, Any], window: float, t: float) -> str | None:
        """None when this firing page is real; otherwise why not (recorded once per page and alert)."""
        return self._once(note, alert, "firing", t, lambda: self._firing_problem(alert, window))

    def resolved(self, note: Any, alert: dict[str, Any], t: float) -> str | None:
        """None when Prometheus and Alertmanager agree that the alert of this resolved page resolved."""
        return self._once(note, alert, "resolved", t, lambda: self._resolved_problem(alert))

    def _once(self, note: Any, alert: dict[str, Any], status: str, t: float, check: Any) -> str | None:
        key = (id(note), str(alert.get("fingerprint")), status)
        if key in self._seen:  # judged once, when first seen: a refused page never counts later
            return self._seen[key]
        problem = self._seen[key] = check()
        if problem is not None:
            self.refused.append({"t": t, "receiver": note.receiver, "status": status,
                                 "alert": alert.get("labels", {}).get("alertname", ""),
                                 "fingerprint": alert.get("fingerprint"), "why": problem})
        return problem

    def _firing_problem(self, alert: dict[str, Any], window: float) -> str | None:
        labels = dict(alert.get("labels") or {})
        name, fingerprint = labels.get("alertname", ""), alert.get("fingerprint")
        try:
            starts = parse_rfc3339(str(alert.get("startsAt")))
        except (ValueError, TypeError):
            return f"its startsAt {alert.get('startsAt')!r} is not a time"
        twins = [a for a in self.alertmanager.active_alerts(name) if a.get("fingerprint") == fingerprint]
        if not twins:
            return f"Alertmanager holds no active {name} with fingerprint {fingerprint}"
        try:
            theirs = parse_rfc3339(str(twins[0].get("startsAt")))
        except (ValueError, TypeError):
            theirs = math.nan
        if not abs(theirs - starts) <= STARTS_AT_SLACK:
            return (f"Alertmanager's {name} ({fingerprint}) started at {twins[0].get('startsAt')}, the page says "
                    f"{alert.get('startsAt')}")
        seconds = max(1, math.ceil(window) + 1)
        shown = self.prometheus.query(f"max_over_time(ALERTS{{alertname={_quoted(name)},alertstate=\"firing\"}}"
                                      f"[{seconds}s])")
        if not any(_labels_agree(s.get("metric", {}), labels) for s in shown):
            return f"Prometheus never showed {name} with these labels firing in the last {seconds}s"
        return None

    def _resolved_problem(self, alert: dict[str, Any]) -> str | None:
        labels = dict(alert.get("labels") or {})
        name, fingerprint = labels.get("alertname", ""), alert.get("fingerprint")
        if any(a.get("fingerprint") == fingerprint for a in self.alertmanager.active_alerts(name)):
            return f"Alertmanager still holds {name} ({fingerprint}) active"
        for a in self.prometheus.alerts():
            if a.name == name and a.state == "firing" and _labels_agree(a.labels, labels):
                return f"Prometheus still shows {name} firing"
        return None


def early_page(ttn: float, floor: float, evaluation: float) -> str | None:
    """A page sooner after the fault than the pipeline's floor allows (less a half evaluation of slack)."""
    if ttn >= floor - evaluation / 2:
        return None
    return (f"the page came {ttn:.3f}s after the fault, before the pipeline's floor of {floor:.3f}s: no rule "
            "evaluation and group_wait could have produced it that soon; check who else reaches the receiver")
