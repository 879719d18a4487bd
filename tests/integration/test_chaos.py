"""The harness's own chaos test, short: ``bench/harness_chaos.py`` (the long run is by hand) with one trial per
signal on a lab fault and on the hardest container fault to revert (packet loss: a sidecar's nftables table).
Each trial ends a real drill with SIGINT, SIGTERM or SIGKILL at a random moment after its fault is in, then
checks the target is healthy, nothing is left behind and no result reads passed."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.integration.test_compose import docker_or_skip


def test_a_drill_ended_by_any_signal_after_its_fault_leaves_nothing_and_never_reads_passed():
    docker_or_skip()
    proc = subprocess.run([sys.executable, str(ROOT / "bench/harness_chaos.py"), "--trials", "1", "--kinds",
                           "stop-service,packet-loss", "--signals", "INT,TERM,KILL", "--jobs", "2"],
                          capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "6 trials, 0 with a leftover or a lying result" in out, out
    for kind in ("stop-service", "packet-loss"):
        for sig in ("INT", "TERM", "KILL"):
            assert f"{kind} SIG{sig}: 1 of 1 trials clean" in out, out
