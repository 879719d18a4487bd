"""One monotonic clock for every measurement, stamped with wall time once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Clock:
    """Monotonic seconds since the drill began; wall time is derived from one anchor."""

    mono: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    anchor_mono: float = field(init=False)
    anchor_wall: float = field(init=False)

    def __post_init__(self) -> None:
        self.anchor_mono = self.mono()
        self.anchor_wall = self.wall()

    def now(self) -> float:
        """Seconds on the drill's clock."""
        return self.mono() - self.anchor_mono

    def from_wall(self, wall_seconds: float) -> float:
        """A wall-clock stamp (e.g. an alert's startsAt) on the drill's clock."""
        return wall_seconds - self.anchor_wall

    def from_mono(self, mono_seconds: float) -> float:
        """A raw ``time.monotonic()`` stamp on the drill's clock."""
        return mono_seconds - self.anchor_mono

    def to_mono(self, t: float) -> float:
        """A drill-clock time as a raw ``time.monotonic()`` stamp."""
        return t + self.anchor_mono

    def to_wall(self, t: float) -> float:
        return self.anchor_wall + t

    def iso(self, t: float) -> str:
        return datetime.fromtimestamp(self.to_wall(t), tz=UTC).isoformat(timespec="milliseconds")


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch in an RFC 3339 stamp from Prometheus or Alertmanager."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Go prints up to nanoseconds; Python takes microseconds.
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    return datetime.fromisoformat(text).timestamp()
