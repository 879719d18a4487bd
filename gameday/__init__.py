"""gameday: game-day drills that prove alerts page the right receiver in time."""

from __future__ import annotations

__version__ = "0.1.0"
