"""A dead-man's switch for a fault that outlives the harness (a paused container, a stress sidecar, an nftables table).

When such a fault is injected, the harness starts this watchdog as a process of its own session and
touches a heartbeat file every second. If the heartbeats stop for longer than the bound (the harness
was killed, or hangs), the watchdog reverts the fault from its ledger entry, checks the revert, and
records it as reverted or abandoned. A normal revert closes the entry and removes the heartbeat file;
the watchdog then exits.

Run by the harness: python -m gameday.faults.watchdog --ledger FILE --entry ID --heartbeat FILE --bound SECONDS
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gameday.faults.ledger import CLOSED, Ledger
from gameday.faults.revert import revert_entry


def watch(ledger: Ledger, entry_id: str, heartbeat: Path, bound: float, poll: float = 0.5) -> str:
    """Wait for the fault's end or the harness's silence; returns what happened."""
    while True:
        if ledger.state_of(entry_id) in CLOSED:
            return "closed by the harness"
        try:
            silent = time.time() - heartbeat.stat().st_mtime
        except FileNotFoundError:
            return "ended by the harness"
        if silent > bound:
            entry = next((e for e in ledger.entries() if e.get("id") == entry_id and e.get("state") == "injecting"),
                         None)
            if entry is None:
                return "no such entry"
            state, note = revert_entry(entry)
            ledger.closed(entry_id, note=f"by the watchdog, {silent:.1f}s without a heartbeat: {note}", state=state)
            heartbeat.unlink(missing_ok=True)
            return f"{state}: {note}"
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gameday.faults.watchdog", description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", type=Path, required=True)
    parser.add_argument("--entry", required=True)
    parser.add_argument("--heartbeat", type=Path, required=True)
    parser.add_argument("--bound", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(watch(Ledger(args.ledger), args.entry, args.heartbeat, args.bound), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
