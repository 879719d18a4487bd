"""Faults and the supervisor with real child processes.

The tests here start a process; the rest of them are in ``tests/unit/test_faults.py``."""

from __future__ import annotations

import sys
import time

import pytest

from gameday.core.errors import InjectionError
from gameday.faults import Ledger
from gameday.faults.base import Fault
from gameday.lab.faults import KillService, StopService
from gameday.lab.supervisor import ServiceSpec, Supervisor
from tests.unit.test_faults import until


@pytest.fixture
def sup(tmp_path):
    s = Supervisor()
    s.add(ServiceSpec("svc", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "svc.log", 0.3))
    assert until(lambda: s.is_running("svc"))
    yield s
    s.shutdown()


class Lasting(Fault):
    """A fault that outlives the harness, so a real watchdog process guards it."""

    kind = "lasting"
    outlives_harness = True

    def __init__(self, ledger):
        super().__init__("x", ledger)
        self.undone = 0

    def _apply(self):
        self._stamp()

    def _undo(self):
        self.undone += 1


def test_supervisor_restarts_a_killed_service_after_its_delay(sup):
    first = sup.pid("svc")
    fault = KillService(sup, "svc")
    with fault:
        t_kill = fault.injected_at
        assert sup.pid("svc") != first
        assert until(lambda: sup.pid("svc") not in (None, first), 3)
    started = [t for t, what, _ in sup.history("svc") if what == "started"]
    assert len(started) == 2 and started[1] - t_kill >= 0.3
    assert sup.status()["svc"]["restarts"] == 1


def test_kill_holds_the_service_down_for_its_duration_and_restores_the_delay(sup):
    with KillService(sup, "svc", down_for=30) as fault:
        time.sleep(0.5)
        assert not sup.is_running("svc"), "down_for must outlast the normal 0.3s restart delay"
        assert fault.active
    assert not fault.active
    assert until(lambda: sup.is_running("svc"), 3), "revert must bring the service back at once"
    assert sup.status()["svc"]["restart_delay"] == 0.3


def test_stop_keeps_the_service_down_until_revert(sup):
    fault = StopService(sup, "svc")
    fault.inject()
    time.sleep(0.5)
    assert not sup.is_running("svc")
    fault.revert()
    assert sup.is_running("svc")
    fault.revert()  # idempotent
    assert sup.is_running("svc")


def test_failed_inject_still_reverts_and_closes_the_ledger(sup, tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    sup.stop("svc")
    with pytest.raises(InjectionError, match="not running"), StopService(sup, "svc", ledger=ledger):
        pass
    assert ledger.pending() == []
    assert [e["state"] for e in ledger.entries()] == ["injecting", "reverted"]


def test_revert_runs_when_the_body_raises(sup, tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(KeyboardInterrupt), StopService(sup, "svc", ledger=ledger):
        raise KeyboardInterrupt
    assert sup.is_running("svc") and ledger.pending() == []


def test_a_killed_harness_not_yet_reaped_is_not_alive():
    """A zombie (killed, its parent not yet waiting for it) holds no fault: its ledger entries are orphans."""
    import os
    import signal
    import subprocess

    from gameday.faults.ledger import alive

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child.pid) and os.path.exists(f"/proc/{child.pid}"), "a zombie, still in the table"
    finally:
        child.kill()
        child.wait()
    assert not alive(child.pid)


def test_a_watchdog_that_took_a_fault_out_is_known_to_the_harness_and_the_ledger_is_closed_once(tmp_path,
                                                                                              monkeypatch):
    """A harness stalled past the bound (SIGSTOP) once came back, wrote 'harness reverted' on its timeline and
    closed the ledger entry a second time. Here the heartbeats stop as they would in a stall."""
    import gameday.faults.heartbeat as harness_side

    ledger = Ledger(tmp_path / "ledger.jsonl", watchdog_bound=1.0)
    fault = Lasting(ledger)
    fault.inject()
    assert fault.taken_over() is None
    monkeypatch.setattr(harness_side.os, "utime", lambda *_: None)  # the harness beats no more
    assert until(lambda: fault.taken_over() is not None, timeout=8), "the watchdog never acted"
    close = fault.taken_over()
    assert close["state"] == "gone" and close["note"].startswith("by the watchdog, ")
    fault.revert()
    assert fault.undone == 1, "the harness still puts the target back (idempotent) and checks it"
    states = [e["state"] for e in ledger.entries()]
    assert states == ["injecting", "gone"], "one close per fault, whoever came first"


def test_a_ledger_entry_is_closed_once_even_by_processes_racing_to_close_it(tmp_path):
    import subprocess

    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry = ledger.opened("k", "t", {})
    code = ("import sys; from pathlib import Path; from gameday.faults import Ledger; "
            f"Ledger(Path({str(ledger.path)!r})).closed({entry!r}, note=sys.argv[1])")
    procs = [subprocess.Popen([sys.executable, "-c", code, f"closer {i}"]) for i in range(6)]
    assert [p.wait(30) for p in procs] == [0] * 6
    closes = [e for e in ledger.entries() if e["state"] != "injecting"]
    assert len(closes) == 1
    assert ledger.closed(entry, note="late") == closes[0], "a late close is told who closed it"

