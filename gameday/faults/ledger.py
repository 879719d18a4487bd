"""The fault ledger: every fault is written down before it is injected, and again when reverted.

A run that was killed outright leaves entries without a revert; the next run finds them.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Ledger:
    path: Path

    def _append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def opened(self, kind: str, target: str, detail: dict[str, Any]) -> str:
        entry_id = uuid.uuid4().hex[:12]
        self._append({"id": entry_id, "state": "injecting", "kind": kind, "target": target, "detail": detail,
                      "pid": os.getpid(), "wall": time.time()})
        return entry_id

    def closed(self, entry_id: str, note: str = "reverted") -> None:
        self._append({"id": entry_id, "state": "reverted", "note": note, "wall": time.time()})

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

    def pending(self) -> list[dict[str, Any]]:
        """Faults injected and never reverted, oldest first."""
        closed = {e["id"] for e in self.entries() if e.get("state") == "reverted"}
        return [e for e in self.entries() if e.get("state") == "injecting" and e["id"] not in closed]
