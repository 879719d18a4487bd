"""The fault ledger: every fault is written down before it is injected, and again when reverted.

A run that was killed outright leaves entries without a revert; the next run finds them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLOSED = ("reverted", "abandoned", "gone")


def alive(pid: int | None) -> bool:
    """True when process ``pid`` still exists and is not a zombie (a killed process its parent has not reaped
    yet: it holds nothing any more)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@dataclass
class Ledger:
    path: Path
    watchdog_bound: float = 10.0
    """Seconds without the harness's heartbeat after which a watchdog reverts a fault that outlives it (0: none)."""

    def _append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    @contextlib.contextmanager
    def _locked(self) -> Any:
        """The ledger held against every other process's close (the harness, its watchdog, ``gameday revert``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def opened(self, kind: str, target: str, detail: dict[str, Any], revert: str = "died-with-harness") -> str:
        """Write a fault down before it goes in; ``revert`` names how it is reverted if this run dies
        (``gameday.faults.revert``)."""
        entry_id = uuid.uuid4().hex[:12]
        self._append({"id": entry_id, "state": "injecting", "kind": kind, "target": target, "detail": detail,
                      "revert": revert, "pid": os.getpid(), "wall": time.time()})
        return entry_id

    def closed(self, entry_id: str, note: str = "reverted", state: str = "reverted") -> dict[str, Any] | None:
        """Close an entry: ``reverted`` (the revert was checked), ``abandoned`` (it could not be: ``note`` says
        why) or ``gone`` (nothing was left to revert: what held the fault died with it). Once only: an entry
        that someone else closed first is left as it is, and that close is returned (None when this one wrote)."""
        assert state in CLOSED, state
        with self._locked():
            earlier = self.close_of(entry_id)
            if earlier is not None:
                return earlier
            self._append({"id": entry_id, "state": state, "note": note, "pid": os.getpid(), "wall": time.time()})
        return None

    def close_of(self, entry_id: str) -> dict[str, Any] | None:
        """The record that closed an entry, or None while it is open."""
        return next((e for e in self.entries() if e.get("id") == entry_id and e.get("state") in CLOSED), None)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def state_of(self, entry_id: str) -> str | None:
        """The last state written for an entry (``injecting`` while it is open)."""
        states = [e.get("state") for e in self.entries() if e.get("id") == entry_id]
        return states[-1] if states else None

    def orphans(self) -> list[dict[str, Any]]:
        """Open entries whose harness is gone: a run that was killed outright left them."""
        return [e for e in self.pending() if not alive(e.get("pid"))]

    def pending(self) -> list[dict[str, Any]]:
        """Faults injected and never reverted, oldest first."""
        closed = {e["id"] for e in self.entries() if e.get("state") in CLOSED}
        return [e for e in self.entries() if e.get("state") == "injecting" and e["id"] not in closed]
