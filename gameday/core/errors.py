"""One error tree: configuration errors, harness errors (ERROR) and alerting failures (FAIL).

Each class carries the verdict a drill that ends with it reads (``gameday.core.verdict``) and the label its
one line starts with; ``error_for`` turns a journal's verdict back into the error pytest reports.
"""

from __future__ import annotations

from gameday.core.text import printable
from gameday.core.verdict import Verdict

__all__ = ["printable"]  # kept importable from here for code that has always taken it from here


class GamedayError(Exception):
    """Root of every error the harness raises on purpose."""

    verdict = Verdict.ERROR

    @property
    def label(self) -> str:
        """How its one line starts (``FAIL: ...``, ``INVALID SCENARIO: ...``)."""
        return self.verdict.value


class ConfigError(GamedayError):
    """A scenario or config file is invalid: names the file, the field and the reason."""

    kind = "INVALID CONFIG"

    def __init__(self, path: str, field: str, reason: str) -> None:
        self.path, self.field, self.reason = printable(path, 200), printable(field, 100), printable(reason, 300)
        super().__init__(f"{self.path}: {self.field}: {self.reason}")

    @property
    def label(self) -> str:
        return self.kind


class ScenarioError(ConfigError):
    """A scenario file is invalid."""

    kind = "INVALID SCENARIO"


class HarnessError(GamedayError):
    """The harness or the observability stack failed; not a verdict on the alert (ERROR)."""


class InjectionError(HarnessError):
    """A fault could not be applied or confirmed."""


class StackUnreachable(HarnessError):
    """Prometheus, Alertmanager or the target could not be reached."""


class TargetNotAllowed(HarnessError):
    """A target lies outside the allowlist (loopback and what the run created)."""


class DrillAborted(HarnessError):
    """A stop condition held during the drill: the fault was reverted at once (ABORTED, no verdict on the alert)."""

    verdict = Verdict.ABORTED


class DrillFailed(GamedayError, AssertionError):
    """The alerting pipeline did not do what the scenario expects (FAIL)."""

    verdict = Verdict.FAIL


class DrillSkipped(GamedayError):
    """The drill cannot run here, for a stated reason (SKIPPED)."""

    verdict = Verdict.SKIPPED


_BY_VERDICT: dict[Verdict, type[GamedayError]] = {
    Verdict.FAIL: DrillFailed, Verdict.ERROR: HarnessError, Verdict.ABORTED: DrillAborted,
    Verdict.SKIPPED: DrillSkipped}


def error_for(verdict: Verdict, reason: str) -> GamedayError | None:
    """The error a drill with this verdict ends its test with; None for PASS."""
    cls = _BY_VERDICT.get(Verdict(verdict))
    return None if cls is None else cls(reason)
