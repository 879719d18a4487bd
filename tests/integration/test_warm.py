"""A warm lab's parts that need no lab: what must match, who holds it, and the receiver a session follows.

The tests here start a process; the rest of them are in ``tests/unit/test_warm.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from gameday.lab.warm import Holder
from gameday.lab.warmfile import find_warm


def test_the_file_of_a_warm_lab_that_died_is_not_taken_for_a_lab(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "warm.json").write_text(json.dumps({"pid": dead.pid, "fingerprint": {}}))
    assert find_warm(tmp_path) is None and not (tmp_path / "warm.json").exists()
    (tmp_path / "warm.json").write_text(json.dumps({"pid": os.getpid(), "fingerprint": {}}))
    assert find_warm(tmp_path) == {"pid": os.getpid(), "fingerprint": {}}
    (tmp_path / "warm.json").write_text("{not json")
    assert find_warm(tmp_path) is None


def test_one_session_holds_the_lab_and_a_dead_holder_is_let_go():
    holder = Holder()
    assert holder.hold({"pid": "x"})[0] == 400 and holder.hold({})[0] == 400 and holder.pid is None
    assert holder.hold({"pid": str(os.getpid())})[0] == 200
    status, body = holder.hold({"pid": "12345678"})
    assert status == 409 and str(os.getpid()) in body["error"]  # type: ignore[index]
    assert holder.lost() is None, "a live holder is not lost"
    holder.release({"pid": str(os.getpid())})
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert holder.hold({"pid": str(dead.pid)})[0] == 200
    assert holder.lost() == dead.pid and holder.pid is None and holder.lost() is None


def test_lab_down_kills_a_warm_lab_that_does_not_stop_on_sigterm(tmp_path, capsys):
    """``gameday lab down`` leaves no lab up: one deaf to SIGTERM (as a hung one is) is killed, and says so."""
    from gameday.lab.warm import down

    deaf = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); print('up', flush=True); time.sleep(60)"], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert deaf.stdout is not None and deaf.stdout.readline().strip() == "up"
        (tmp_path / "warm.json").write_text(json.dumps({"pid": deaf.pid}))
        assert down(tmp_path, timeout=0.5) == 1
        assert deaf.wait(5) == -9, "killed"
    finally:
        deaf.kill()
        deaf.wait()
    said = capsys.readouterr().out
    assert "did not stop within 0s of SIGTERM: killed; its services die with it" in said, said
    assert not (tmp_path / "warm.json").exists()

