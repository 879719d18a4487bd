"""One error tree: configuration errors, harness errors (ERROR) and alerting failures (FAIL)."""

from __future__ import annotations

from gameday.core.text import printable

__all__ = ["printable"]  # kept importable from here for code that has always taken it from here


class GamedayError(Exception):
    """Root of every error the harness raises on purpose."""


class ConfigError(GamedayError):
    """A scenario or config file is invalid: names the file, the field and the reason."""

    def __init__(self, path: str, field: str, reason: str) -> None:
        self.path, self.field, self.reason = printable(path, 200), printable(field, 100), printable(reason, 300)
        super().__init__(f"{self.path}: {self.field}: {self.reason}")


class ScenarioError(ConfigError):
    """A scenario file is invalid."""


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


class DrillFailed(GamedayError, AssertionError):
    """The alerting pipeline did not do what the scenario expects (FAIL)."""


class DrillSkipped(GamedayError):
    """The drill cannot run here, for a stated reason (SKIPPED)."""
