"""Alertmanager's aggregation groups: does the next page open a new group, or join one that lingers?

Two hard-coded timers, which no time scale shrinks, keep a group alive after its incident:
Prometheus keeps a resolved alert for 15 minutes and sends it again every resend delay, and
each of those sends re-creates the alert's group in Alertmanager; Alertmanager drops a group
whose alerts have all resolved only on its dispatcher's maintenance tick, every 30 seconds. An
alert that arrives while such a group exists joins it; the group has flushed before, so the page
goes out on the group's next ``group_interval`` tick instead of after ``group_wait``. A service
that fails again within about 15 minutes of its last resolution may page later than a first
incident would.

What the harness can see: ``/api/v2/alerts/groups`` lists only groups with active alerts; the
``alertmanager_dispatcher_aggregation_groups`` metric counts every group, lingering ones too; and
the receiver's own history says when each group last paged and resolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from gameday.core.durations import human
from gameday.observe.clients import AlertGroup

MAINTENANCE_INTERVAL = 30.0
"""Alertmanager's dispatcher removes empty groups on a tick this often (seconds, real time)."""
RESOLVED_RETENTION = 15 * 60.0
"""Prometheus keeps sending a resolved alert to Alertmanager this long after it resolved (seconds, real time)."""
MARGIN = 1.0
"""Slack for the flush that empties a group, the tick itself and a last resend."""
LINGER = RESOLVED_RETENTION + MAINTENANCE_INTERVAL + MARGIN
"""After a group's resolved page, how long Alertmanager may still hold (or re-create) that group."""

State = Literal["new", "active", "lingering"]


@dataclass(frozen=True)
class GroupPage:
    """One page of a group as the receiver recorded it: when (drill clock), its status, its group labels."""

    t: float
    status: str
    group_labels: dict[str, str]


@dataclass(frozen=True)
class GroupState:
    """What the next page of ``alert`` at ``receiver`` will meet in Alertmanager."""

    alert: str
    receiver: str
    state: State
    detail: str
    last_resolved: float | None = None
    """Drill-clock arrival of the group's last resolved page, when the receiver saw one."""
    clear_by: float | None = None
    """Drill-clock time by which a lingering group is gone at the latest, when that is known."""

    @property
    def joins_group(self) -> bool:
        """True when a new alert would join an existing group and wait for its ``group_interval`` tick."""
        return self.state != "new"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"joins_group": self.joins_group}


def known_group_labels(alert: str, rule_labels: dict[str, str], group_by: Sequence[str] | None) -> dict[str, str]:
    """The group labels of ``alert`` that can be known before it fires (``alertname`` and the rule's labels).

    ``group_by: [...]`` (None here) groups by every label, so every known label takes part.
    """
    known = {"alertname": alert, **rule_labels}
    if group_by is None:
        return known
    return {k: known[k] for k in group_by if k in known}


def _same_group(known: dict[str, str], labels: dict[str, str]) -> bool:
    """Labels the harness cannot know before the alert fires match anything: the answer errs towards a group."""
    return all(labels.get(k) == v for k, v in known.items())


def group_state(alert: str, receiver: str, known: dict[str, str], active_groups: list[AlertGroup],
                total_groups: int | None, pages: list[GroupPage], now: float) -> GroupState:
    """Classify the group that a page of ``alert`` at ``receiver`` would land in, at drill time ``now``.

    ``total_groups`` is the dispatcher's count of every group (None when the metric is absent), shown as
    evidence; ``pages`` are the receiver's deliveries since Alertmanager and Prometheus last started, oldest
    first. A group is new only when the history rules out both a lingering group and one re-created by
    Prometheus's resends; a count of zero now says nothing about the next resend.
    """
    mine = [g for g in active_groups if g.receiver == receiver and _same_group(known, g.labels)]
    if mine:
        names = sorted({a for g in mine for a in g.alerts})
        return GroupState(alert, receiver, "active",
                          f"Alertmanager holds an active group {mine[0].labels} at {receiver} "
                          f"(alerts: {', '.join(names)})")
    empty = "" if total_groups is None else (f"; Alertmanager holds {max(total_groups - len(active_groups), 0)} "
                                             "group(s) without active alerts now")
    history = [p for p in pages if _same_group(known, p.group_labels)]
    if not history:
        return GroupState(alert, receiver, "new", f"no page of this group has reached {receiver} since "
                                                  f"Prometheus and Alertmanager started{empty}")
    last = history[-1]
    if last.status != "resolved":
        return GroupState(alert, receiver, "lingering",
                          f"the group's last page ({human(now - last.t)} ago) was a firing one and no resolved page "
                          f"has followed{empty}")
    resolved = last.t
    clear_by = resolved + LINGER
    if now >= clear_by:
        return GroupState(alert, receiver, "new", f"the group resolved {human(now - resolved)} ago, past Prometheus's "
                                                  f"resends and Alertmanager's maintenance{empty}",
                          last_resolved=resolved)
    return GroupState(alert, receiver, "lingering",
                      f"the group's resolved page came {human(now - resolved)} ago: for 15 min Prometheus resends the "
                      "resolved alert and each resend re-creates the group, which Alertmanager drops only on its "
                      f"30s maintenance tick{empty}", last_resolved=resolved, clear_by=clear_by)
