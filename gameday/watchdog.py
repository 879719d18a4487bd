"""A dead-man's switch for a fault that outlives the harness (a paused container, a stress sidecar, an nftables table).

When such a fault is injected, the harness starts this watchdog as a process of its own session and
touches a heartbeat file every second. If the heartbeats stop for longer than the bound (the harness
was killed, or hangs), the watchdog reverts the fault from its ledger entry, checks the revert, and
records it as reverted or abandoned. A normal revert closes the entry and removes the heartbeat file;
the watchdog then exits.

Run by the harness: python -m gameday.watchdog --ledger FILE --entry ID --heartbeat FILE --bound SECONDS
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gameday.faults.ledger import CLOSED, Ledger


def revert_entry(entry: dict) -> tuple[str, str]:
    """Revert an open fault whose harness is gone; (ledger state, note)."""
    if "restore" in (entry.get("detail") or {}):
        return restore_baseline(entry["detail"]["restore"])
    if "cgroup" in (entry.get("detail") or {}):
        from gameday.cgroups import revert_left_stress

        return revert_left_stress(entry)
    if entry.get("kind") == "traffic-surge":
        from gameday.faults.surge import revert_left as revert_surge

        return revert_surge(entry)
    if "container" in (entry.get("detail") or {}):
        from gameday.compose.faults import revert_left

        return revert_left(entry)
    return "gone", "a lab fault: the lab's processes died with the run that held them, so nothing is left"


def restore_baseline(url: str) -> tuple[str, str]:
    """A fault on a target that can put itself back as it was started (a warm lab): ``POST`` its restore URL,
    which answers 200 with what it checked, or an error with what is still wrong."""
    import requests

    try:
        res = requests.post(url, timeout=30)
        body = res.json()
    except (requests.RequestException, ValueError) as exc:
        return "gone", (f"{url} did not answer ({type(exc).__name__}): the target that held the fault is down, and "
                        "the services it started are set to die with it; nothing was reverted")
    if res.status_code == 200:
        return "reverted", f"{url} restored the target's baseline: {body.get('checked')}"
    return "abandoned", f"{url} could not restore the target's baseline: {body.get('error')}"


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
    parser = argparse.ArgumentParser(prog="python -m gameday.watchdog", description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", type=Path, required=True)
    parser.add_argument("--entry", required=True)
    parser.add_argument("--heartbeat", type=Path, required=True)
    parser.add_argument("--bound", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(watch(Ledger(args.ledger), args.entry, args.heartbeat, args.bound), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
