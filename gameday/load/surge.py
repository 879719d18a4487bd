"""Traffic surge: the drill's own load grows past what the service can serve, then falls back.

The fault lives in the harness's Locust run (started steerable), not in the target, so every target can
take it. It is applied when the control file asks for more users and confirmed when Locust reports
running them; reverting asks for the scenario's users again and confirms that too. Locust dies with
the harness, so a surge never outlives it; a ledger entry a killed run left open names the Locust
process, which a later run ends if it is somehow still there.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from gameday.core.errors import InjectionError
from gameday.faults.base import Fault
from gameday.faults.ledger import Ledger, alive
from gameday.load.locust import LocustRun


class TrafficSurge(Fault):
    kind = "traffic-surge"
    reverter = "traffic-surge"

    def __init__(self, target: str, load: LocustRun, users: int, spawn_rate: float,
                 ledger: Ledger | None = None) -> None:
        super().__init__(target, ledger)
        self.load, self.users, self.spawn_rate = load, users, spawn_rate
        self.base_users, self.base_rate = load.users, load.spawn_rate

    def describe(self) -> str:
        return f"traffic surge on {self.target}: {self.base_users} -> {self.users} users"

    def detail(self) -> dict[str, Any]:
        return {"locust_pid": self.load.proc.pid if self.load.proc else None, "locust_csv": str(self.load.prefix),
                "users": self.users}

    def _ramp_seconds(self, users: int, rate: float) -> float:
        """How long Locust may take to get there: the ramp, a shape tick and a stats report, with room."""
        return abs(users - (self.load.user_count() or 0)) / rate + 5.0

    def _reach(self, users: int, rate: float, what: str) -> None:
        deadline = time.monotonic() + self._ramp_seconds(users, rate)
        while time.monotonic() < deadline:
            if not self.load.running():
                raise InjectionError(f"{self.describe()}: Locust is not running ({what})")
            if self.load.user_count() == users:
                return
            time.sleep(0.1)
        raise InjectionError(f"{self.describe()}: Locust runs {self.load.user_count()} users, not {users}, "
                             f"{what}; log: {self.load.log_path}")

    def _apply(self) -> None:
        if not self.load.running():
            raise InjectionError(f"{self.describe()}: the drill's load is not running")
        self.load.steer(self.users, self.spawn_rate)
        self._stamp()  # the surge begins as the ramp does
        self._reach(self.users, self.spawn_rate, "after the surge was asked for")

    def _undo(self) -> None:
        if not self.load.running():
            return  # no load, no surge
        self.load.steer(self.base_users, max(self.base_rate, self.spawn_rate))
        self._reach(self.base_users, max(self.base_rate, self.spawn_rate), "after the surge was ended")


def revert_left(entry: dict[str, Any]) -> tuple[str, str]:
    """A surge left open by a killed run: its Locust died with it (or is ended now)."""
    detail = entry.get("detail") or {}
    pid, csv = detail.get("locust_pid"), detail.get("locust_csv")
    if isinstance(pid, int) and pid > 1 and alive(pid) and _is_that_locust(pid, csv):
        try:
            os.killpg(pid, signal.SIGTERM)  # Locust runs in its own session: its group is its own
        except OSError as exc:
            return "abandoned", f"the surge's Locust (pid {pid}) is still running and could not be stopped: {exc}"
        return "reverted", f"the surge's Locust (pid {pid}) was still running: stopped"
    return "gone", "the surge's Locust died with the run that started it, so no load is left"


def _is_that_locust(pid: int, csv: Any) -> bool:
    """The process is that run's Locust (its command line names its CSV prefix), not a reused pid."""
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")  # noqa: SIM115
    except OSError:
        return False
    return isinstance(csv, str) and b"locust" in b" ".join(argv) and csv.encode() in argv
