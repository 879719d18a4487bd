"""What the lab needs of this host and what a killed lab leaves on it: the Prometheus binaries, and the processes
reaped when a lab starts in a folder a dead one used."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

from gameday.core.errors import HarnessError
from gameday.faults.ledger import alive

INSTALL_HINT = "install them with `apt-get install prometheus prometheus-alertmanager` (or run ./run, which does)"


def find_binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise HarnessError(f"{names[0]} is not on PATH: {INSTALL_HINT}")


def reap_leftovers(workdir: Path) -> list[int]:
    """Kill lab processes that a killed earlier run left behind in this workdir."""
    pidfile = workdir / "pids.json"
    if not pidfile.exists():
        return []
    try:
        recorded = json.loads(pidfile.read_text())
    except ValueError:
        return []
    owner = recorded.get("harness")
    if owner and owner != os.getpid() and alive(owner):  # a zombie holds nothing: its lab is a leftover
        raise HarnessError(f"another lab is running in {workdir} (harness pid {owner}); stop it first, "
                           "or give this run its own --reports folder")
    reaped = []
    for pid in recorded.get("pids", {}).values():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "gameday.lab" in cmdline or str(workdir) in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
                reaped.append(pid)
            except ProcessLookupError:
                pass
    pidfile.unlink()
    return reaped
