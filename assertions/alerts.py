"""Wait for an alert to fire and page a receiver; assert what came, and what must stay quiet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from assertions.sla import assert_within_sla
from gameday.core.clock import Clock, parse_rfc3339
from gameday.core.durations import human
from gameday.core.errors import DrillFailed
from gameday.observe.clients import Prometheus
from gameday.observe.provenance import PageCheck
from gameday.observe.receiver import Deliveries, Notification
from gameday.pipeline.groups import GroupPage, GroupState
from gameday.pipeline.timing import PipelineTiming


@dataclass
class Watch:
    """What a drill watches: Prometheus's alert state and the pages that reach the receivers."""

    prometheus: Prometheus
    webhook: Deliveries
    clock: Clock
    check: PageCheck | None = None
    """Holds each page against the stack (``gameday.observe.provenance``); a page it refuses never counts. None only
    where no Alertmanager can be asked (the assertions' own unit tests)."""
    skew: float = 0.0
    """Prometheus's clock minus the harness's: an alert's ``startsAt`` is on Prometheus's clock."""

    def vet(self, since: float) -> None:
        """Hold every page since ``since`` against the stack now, while what it claims can still be seen there
        (a quiet alert that paged and resolved before the drill looked would otherwise find no twin)."""
        if self.check is None:
            return
        for note in self.notifications(since):
            for alert in note.alerts:
                self.refused(note, alert, since)

    def refused(self, note: Notification, alert: dict[str, Any], since: float) -> str | None:
        """Why a page must not count, or None: a firing page needs its twin, a resolved one the stack's word."""
        if self.check is None:
            return None
        t = self.arrival(note)
        if alert.get("status") == "resolved":
            return self.check.resolved(note, alert, t)
        return self.check.firing(note, alert, self.clock.now() - since, t)

    def notifications(self, since: float) -> list[Notification]:
        """Deliveries since ``since`` on the drill clock."""
        return self.webhook.received(since=self.clock.anchor_mono + since)

    def arrival(self, note: Notification) -> float:
        return self.clock.from_mono(note.arrived)

    def group_pages(self, receiver: str, since_mono: float = float("-inf")) -> list[GroupPage]:
        """Pages ``receiver`` has had since ``since_mono`` (``time.monotonic()``), with their group labels."""
        return [GroupPage(self.arrival(n), n.status, n.payload.get("groupLabels") or {})
                for n in self.webhook.received(since=since_mono) if n.receiver == receiver]

    def until(self, look: Callable[[], bool], timeout: float, poll: float) -> bool:
        """Call ``look`` every ``poll`` seconds (at once when a page arrives) until it is true or ``timeout`` passes."""
        return Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(poll),
                        retry=retry_if_result(lambda done: not done), retry_error_callback=lambda _: False,
                        sleep=self.webhook.nap)(look)


@dataclass
class PageResult:
    """What the detection wait saw, on the drill clock."""

    alert: str
    receiver: str
    firing_seen: float | None = None
    """When the harness first saw the alert firing in Prometheus."""
    starts_at: float | None = None
    """The alert's own firing time (``startsAt`` of the page)."""
    notified: float | None = None
    """When the page arrived at the expected receiver (the receiver's stamp)."""
    notified_seen: float | None = None
    """When the harness noticed that page."""
    fingerprint: str | None = None
    other_receivers: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    """Pages for this alert that the stack did not back (``Watch.refused``): never counted."""
    last_state: str = "inactive"
    waited: float = 0.0


def wait_for_page(watch: Watch, alert: str, receiver: str, since: float, timeout: float, poll: float = 0.05,
                  on_poll: Callable[[PageResult], None] | None = None, ask_every: float = 0.1) -> PageResult:
    """Poll until ``alert`` has paged ``receiver`` (after ``since``), or ``timeout`` seconds pass.

    The receiver's deliveries are looked at every ``poll`` (and at once when one arrives); Prometheus is
    asked for the alert's state every ``ask_every`` only, since the page carries its own firing time.
    """
    result = PageResult(alert, receiver)
    start = watch.clock.now()
    asked = float("-inf")

    def look() -> bool:
        nonlocal asked
        now = watch.clock.now()
        result.waited = now - start
        if result.firing_seen is None and now - asked >= ask_every:  # once firing, only the page is left
            asked = now
            states = [a.state for a in watch.prometheus.alerts() if a.name == alert]
            result.last_state = "firing" if "firing" in states else ("pending" if "pending" in states else "inactive")
            if result.last_state == "firing":
                result.firing_seen = now
        for note in watch.notifications(since):
            for a in note.alerts_named(alert, "firing"):
                if (why := watch.refused(note, a, since)) is not None:
                    if why not in result.refused:
                        result.refused.append(why)
                    continue
                if note.receiver != receiver:
                    result.other_receivers.add(note.receiver)
                elif result.notified is None:
                    result.notified, result.notified_seen = watch.arrival(note), watch.clock.now()
                    result.starts_at = watch.clock.from_wall(parse_rfc3339(a["startsAt"]) - watch.skew)
                    result.fingerprint = a.get("fingerprint")
        if on_poll is not None:
            on_poll(result)
        return result.notified is not None

    watch.until(look, timeout, poll)
    return result


def late_page_reason(result: PageResult, since: float, timing: PipelineTiming | None,
                     group: GroupState | None, failed_deliveries: int | None = None) -> str:
    """Where the time went between the fault and a page: firing, then the wait in Alertmanager (and its failed
    delivery attempts since the fault, when it counted any)."""
    if result.starts_at is None or result.notified is None:
        return ""
    fired, held = result.starts_at - since, result.notified - result.starts_at
    text = f"it fired {human(fired)} after the fault and the page followed {human(held)} later"
    if failed_deliveries:
        text += (f"; Alertmanager counted {failed_deliveries} failed notification attempt(s) since the fault, each "
                 "retried after a back-off that starts near 0.5 s: check the receiver's endpoint")
    if timing is None:
        return text
    if fired > timing.firing_ceiling:
        text += (f"; firing took longer than the pipeline's ceiling of {human(timing.firing_ceiling)}: check "
                 "Prometheus's evaluation and scrape health")
    if held <= timing.group_wait + 0.5 * timing.evaluation_interval:
        return text
    text += f", longer than group_wait {human(timing.group_wait)}"
    if group is not None and group.joins_group:
        when = ("" if group.last_resolved is None
                else f" (its resolved page came {human(since - group.last_resolved)} before the fault)")
        text += (f": the alert joined the group of the previous {result.alert} incident, which Alertmanager "
                 f"still held{when}, so the page waited for that group's next group_interval tick (every "
                 f"{human(timing.group_interval)}); Prometheus resends a resolved alert for 15 min, each resend "
                 "re-creates its group, and Alertmanager drops an empty group only on its 30s maintenance tick")
    elif group is not None:
        text += f", though Alertmanager held no group for it before the fault ({group.detail})"
    return text


def assert_page(result: PageResult, since: float, sla: float, why_late: str = "") -> float:
    """Raise ``DrillFailed`` unless the page reached its receiver within ``sla``; return the TTN.

    ``why_late`` (see ``late_page_reason``) is added to the reason of a late page.
    """
    name, want = result.alert, result.receiver
    if result.notified is None:
        refused = (f"; {len(result.refused)} page(s) that named it were refused as not backed by Prometheus and "
                   f"Alertmanager ({result.refused[0]})") if result.refused else ""
        if result.other_receivers:
            raise DrillFailed(f"{name} paged {', '.join(sorted(result.other_receivers))} instead of {want}: "
                              f"check the Alertmanager route that matches its labels{refused}")
        if result.firing_seen is None:
            hint = ("it went pending but never held for its `for` duration" if result.last_state == "pending"
                    else "its expression never crossed the threshold")
            raise DrillFailed(f"{name} never fired within {human(result.waited)} of the fault "
                              f"(SLA {human(sla)}): {hint}; check the rule's expression, threshold and `for`{refused}")
        raise DrillFailed(f"{name} fired {human(result.firing_seen - since)} after the fault but no page reached "
                          f"{want} within {human(result.waited)}: check Alertmanager routes and receivers{refused}")
    ttn = result.notified - since
    assert_within_sla(name, ttn, sla, want, why_late)
    return ttn


def assert_quiet(watch: Watch, names: list[str], since: float) -> None:
    """Raise ``DrillFailed`` if any alert in ``names`` paged anyone, or is firing now."""
    loud = set()
    for note in watch.notifications(since):
        for name in names:
            if any(watch.refused(note, a, since) is None for a in note.alerts_named(name, "firing")):
                loud.add(f"{name} (paged {note.receiver})")
    for alert in watch.prometheus.alerts():
        if alert.name in names and alert.state == "firing" and not any(x.startswith(alert.name) for x in loud):
            loud.add(f"{alert.name} (firing in Prometheus)")
    if loud:
        raise DrillFailed(f"alerts that must stay quiet fired: {', '.join(sorted(loud))}")
