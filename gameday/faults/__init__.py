"""Faults: context managers that inject and always revert; each target builds the kinds it can do."""

from __future__ import annotations

from gameday.faults.base import Fault
from gameday.faults.ledger import Ledger

__all__ = ["Fault", "Ledger"]
