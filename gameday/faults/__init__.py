"""Faults: context managers that inject and always revert."""

from __future__ import annotations

from gameday.faults.base import Fault
from gameday.faults.lab import KillService, StopService
from gameday.faults.ledger import Ledger

__all__ = ["Fault", "KillService", "Ledger", "StopService"]
