"""Faults and the supervisor with real child processes."""

from __future__ import annotations

import time

import pytest

from gameday.core.errors import InjectionError
from gameday.faults import Fault, Ledger


def until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


class Flaky(Fault):
    kind = "flaky"

    def __init__(self):
        super().__init__("x")
        self.undone = 0

    def _apply(self):
        raise InjectionError("could not apply")

    def _undo(self):
        self.undone += 1


class Slow(Fault):
    """Applies and reverts in three steps, with a signal sent to the harness in the middle of each."""

    kind = "slow"

    def __init__(self, sig, ledger=None):
        super().__init__("x", ledger)
        self.sig, self.steps = sig, []

    def _work(self, what):
        import os

        self.steps.append(f"{what} begun")
        os.kill(os.getpid(), self.sig)
        time.sleep(0.05)  # the signal is delivered here, mid-call
        self.steps.append(f"{what} done")

    def _apply(self):
        self._work("apply")
        self._stamp()

    def _undo(self):
        self._work("undo")


def test_ledger_shows_what_a_killed_run_left_open(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    a = ledger.opened("stop-service", "model-backend", {})
    b = ledger.opened("kill-service", "inference-gateway", {"down_for": 1.0})
    ledger.closed(a)
    assert [e["id"] for e in ledger.pending()] == [b]


def test_half_applied_fault_is_undone_once():
    f = Flaky()
    with pytest.raises(InjectionError), f:
        pass
    f.revert()
    assert f.undone == 1


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_mid_inject_or_mid_revert_waits_for_the_engine_call_to_finish(sig, tmp_path, monkeypatch):
    import signal

    import gameday.core.signals

    said = []
    monkeypatch.setattr(gameday.core.signals, "say", said.append)  # the terminal's line, where the test can read it

    def to_interrupt(signum, frame):  # what the plugin installs for SIGTERM
        raise KeyboardInterrupt(f"signal {signum}")

    number = getattr(signal, sig)
    before = signal.signal(signal.SIGTERM, to_interrupt)
    # Ctrl-C as an interactive pytest has it, whatever this process inherited (a background job ignores SIGINT)
    before_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ledger = Ledger(tmp_path / "ledger.jsonl")
        fault = Slow(number, ledger)
        with pytest.raises(KeyboardInterrupt):
            fault.inject()
        assert fault.steps == ["apply begun", "apply done"], "the injection ran to its end before the interrupt"
        assert fault.active
        with pytest.raises(KeyboardInterrupt):
            fault.revert()
        assert fault.steps[2:] == ["undo begun", "undo done"]
        assert not fault.active and ledger.pending() == [], "a revert that completed is closed, signal or not"
        assert f"signal {int(number)} held until the revert of slow x completes" in "".join(said)
    finally:
        signal.signal(signal.SIGTERM, before)
        signal.signal(signal.SIGINT, before_int)


def test_an_engine_that_refuses_a_container_fault_is_one_line_and_the_revert_still_runs():
    """Seen in a chaos trial: under load the engine answered 500 'unable to freeze' to a pause."""
    import docker
    from gameday.compose.faults import PauseContainer

    class Container:
        id = "c0ffee"

        def pause(self):
            raise docker.errors.APIError("500 Server Error", explanation="Cannot pause container c0ffee: OCI "
                                                                         "runtime pause failed: unable to freeze")

    class Stack:
        def container(self, service):
            return Container()

        def state(self, service):
            return {"Paused": False, "Running": True}

    fault = PauseContainer(Stack(), "inference-gateway")
    with pytest.raises(InjectionError) as err:
        fault.inject()
    assert str(err.value) == ("pause-service inference-gateway: the Docker engine refused to inject it: Cannot pause "
                              "container c0ffee: OCI runtime pause failed: unable to freeze")
    fault.revert()
    assert not fault.active


def test_an_engine_that_stops_answering_is_one_line_naming_it_and_the_revert_waits_for_it_to_come_back():
    """Seen when dockerd restarted mid-drill: 'ERROR: harness error: ConnectionError' with a traceback, and the
    fault left to the watchdog. Here the engine refuses connections for the pause and for two looks at the
    revert, then answers again."""
    import requests

    from gameday.compose.faults import PauseContainer

    calls = {"state": 0, "unpause": 0}

    class Container:
        id = "c0ffee"

        def pause(self):
            raise requests.ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file'))")

        def unpause(self):
            calls["unpause"] += 1

    class Stack:
        def container(self, service):
            return Container()

        def state(self, service):
            calls["state"] += 1
            if calls["state"] <= 2:
                raise requests.ConnectionError("refused")
            return {"Paused": calls["unpause"] == 0, "Running": True}

    fault = PauseContainer(Stack(), "inference-gateway")
    with pytest.raises(InjectionError) as err:
        fault.inject()
    assert str(err.value) == ("pause-service inference-gateway: the Docker engine did not answer while the harness "
                              "tried to inject it (ConnectionError); is dockerd running? This says nothing about the "
                              "alert")
    fault.revert()
    assert not fault.active and calls["unpause"] == 1, "reverted once the engine answered again"


def test_gameday_revert_leaves_no_heartbeat_file_of_a_fault_it_closed(tmp_path):
    """Empty watchdog/*.beat files once stayed after gameday revert closed their faults."""
    import json

    from gameday.faults.revert import revert_orphans

    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.path.write_text(json.dumps({"id": "e1", "state": "injecting", "kind": "kill-service", "target": "x",
                                       "detail": {}, "pid": 2 ** 22 + 7, "wall": 0}) + "\n")
    beat = tmp_path / "watchdog" / "e1.beat"
    beat.parent.mkdir()
    beat.touch()
    assert revert_orphans(ledger, lambda _line: None) == ["gone"]
    assert not beat.exists() and ledger.pending() == []

