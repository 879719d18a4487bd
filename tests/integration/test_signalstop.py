"""A process that runs until a signal asks it to stop must stop, wherever in its wait the signal lands.

A ``threading.Event`` set from the handler deadlocked when the signal landed while the waiting thread held
the Event's own lock (a warm lab hung on ``gameday lab down``; with the loop below, 1 run in 30 hung).
``SignalStop`` takes no lock in its handler.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.conftest import ROOT

WAITER = """
import sys
sys.path.insert(0, {root!r})
from gameday.core.signals import SignalStop
stop = SignalStop()
print("ready", flush=True)
while not stop.wait(0.000001):  # as short a wait as can be: the signal lands anywhere in it
    pass
print("stopped by", stop.signum, flush=True)
"""


def test_a_signal_stops_the_wait_wherever_it_lands():
    for trial in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WAITER.format(root=str(ROOT))], stdout=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(0.01 + (trial % 7) * 0.003)
            sig = signal.SIGTERM if trial % 2 else signal.SIGINT
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert out.strip() == f"stopped by {int(sig)}", f"trial {trial}: {out!r}"


def test_a_wait_with_a_timeout_returns_false_when_no_signal_came():
    from gameday.core.signals import SignalStop

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1,)}
    try:
        stop = SignalStop((signal.SIGUSR1,), step=0.01)
        t0 = time.monotonic()
        assert stop.wait(0.05) is False and 0.04 <= time.monotonic() - t0 < 1
        signal.raise_signal(signal.SIGUSR1)
        assert stop.wait(5) is True and stop.signum == signal.SIGUSR1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
