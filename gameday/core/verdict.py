"""A drill's verdict, one type, and what each verdict reads as everywhere a drill is shown.

The error classes carry their verdict (``gameday.core.errors``); the journal stores it, and the console,
pytest (JUnit), Allure and the review take their wording and status from here, never from a string of their
own. Only PASS and FAIL are verdicts on the alert; the others say why there is none.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    PASS = "PASS"
    """The alert paged the expected receiver within its SLA, and the drill's every check held."""
    FAIL = "FAIL"
    """The alerting did not do what the scenario expects: a verdict on the alert, its route or its runbook."""
    ERROR = "ERROR"
    """The harness, the target or the monitoring stack failed, or the drill was interrupted: no verdict."""
    ABORTED = "ABORTED"
    """A stop condition held: the fault was reverted at once; no verdict on the alert."""
    SKIPPED = "SKIPPED"
    """The drill cannot run here, for a stated reason (a fault kind this target lacks, a protected budget)."""

    @property
    def judged(self) -> bool:
        """A verdict on the alert (PASS or FAIL), as opposed to a reason there is none."""
        return self in (Verdict.PASS, Verdict.FAIL)

    @property
    def allure(self) -> str:
        """Allure's status: a FAIL is ``failed`` (the alert), anything that says nothing of the alert ``broken``."""
        return _ALLURE[self]

    @property
    def color(self) -> str:
        """The colour the console and the review show it in."""
        return _COLOR[self]

    @property
    def markup(self) -> dict[str, bool]:
        """pytest's terminal markup for it."""
        return {self.color: True, "bold": True}


_ALLURE = {Verdict.PASS: "passed", Verdict.FAIL: "failed", Verdict.ERROR: "broken", Verdict.ABORTED: "broken",
           Verdict.SKIPPED: "skipped"}
_COLOR = {Verdict.PASS: "green", Verdict.FAIL: "red", Verdict.ERROR: "red", Verdict.ABORTED: "red",
          Verdict.SKIPPED: "yellow"}
VERDICTS = tuple(Verdict)
