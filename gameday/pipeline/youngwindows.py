"""Young windows: a rate window that holds less than its length of history (a lab a minute old, under a 6h
window scaled to 6m) averages over what it holds.

Two things follow, each decided here from what the windows hold at the fault (``ratewindow.windows``):

- a quiet alert's young window can be fired by the fault's noise, which the whole window never would: a FAIL
  that says nothing about the rule. The drill waits until it is full, at most the longest SLA
  (``quiet_wait``);
- an expected alert with young windows fires sooner than on a service whose windows are full: the drill then
  proves the rule and the route, not the time a steady service takes to page, and says so with both times
  (``young_page``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gameday.core.durations import human
from gameday.pipeline.detection import Condition, Intensity, Window, estimate


@dataclass(frozen=True)
class QuietWait:
    seconds: float
    """How long to wait before the fault (0: not at all)."""
    note: str | None = None
    """What the journal and the live line say (None: nothing to say)."""
    alert: str = ""
    condition: Condition | None = None


def quiet_wait(quiet: dict[Condition, str], held: dict[Condition, Window], scrape_interval: float,
               longest_sla: float) -> QuietWait:
    """The wait for the youngest of the quiet alerts' windows (``quiet``: condition -> its alert) to fill."""
    if not quiet:
        return QuietWait(0.0)
    young = max(quiet, key=lambda c: c.window - held[c].history)
    need = young.window - held[young].history
    if need <= 2 * scrape_interval:
        return QuietWait(0.0)
    what = (f"{quiet[young]} (quiet): {young.describe()} holds {human(held[young].history)} of its "
            f"{human(young.window)} window")
    if need > longest_sla:
        return QuietWait(0.0, f"young windows: {what}: noise in it may fire that alert")
    return QuietWait(need, f"young windows: {what}: waiting {human(need)} for it to fill with healthy traffic, so "
                           "that the fault's noise cannot fire it", quiet[young], young)


def young_page(alert: str, conds: list[Condition], held: dict[Condition, Window], intensity: Intensity,
               expected: float, notify_floor: float) -> tuple[float, str] | None:
    """For an expected alert whose page is expected at ``expected`` from what its windows hold: when that is
    less than half the time with every window full of healthy traffic, (that time, the note); else None."""
    full = estimate(conds, intensity)
    if full.lag is None or math.isinf(full.lag):
        return None
    warm = full.lag + notify_floor
    if expected >= 0.5 * warm:
        return None
    why = [f"its {human(c.window)} window held {human(held[c].history)} of history" for c in conds
           if c in held and held[c].history < 0.9 * c.window]
    why += [f"its {human(c.window)} window still held earlier errors ({held[c].ratio:.3g})" for c in conds
            if c in held and held[c].ratio > 0]
    return warm, (f"young windows: {alert}: {'; '.join(why) or 'its windows were not full'}: its page is expected "
                  f"after {human(expected)}, against {human(warm)} on a service whose windows hold their whole "
                  "length of healthy traffic; this drill proves the rule and the route, not the time a steady "
                  "service takes to page")
