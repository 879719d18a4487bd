"""``gameday``: commands beside the pytest plugin.

  gameday revert [--reports DIR]   revert the faults that runs killed outright left open in the fault ledger
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from gameday.errors import printable
from gameday.faults.ledger import Ledger
from gameday.watchdog import revert_entry


def revert_orphans(ledger: Ledger, say: Callable[[str], None] = print) -> list[str]:
    """Revert every open fault whose harness is gone; each is recorded reverted only when the revert was checked."""
    states = []
    for entry in ledger.orphans():
        state, note = revert_entry(entry)
        ledger.closed(entry["id"], note=note, state=state)
        states.append(state)
        what = f"{entry.get('kind')} on {printable(entry.get('target'), 60)}"
        say(f"gameday: {what} left open by run {entry.get('pid')}: {state}: {printable(note, 300)}")
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gameday", description="game-day drills: commands beside the pytest plugin")
    sub = parser.add_subparsers(dest="command", required=True)
    rev = sub.add_parser("revert", help="revert the faults that runs killed outright left open (see the ledger)")
    rev.add_argument("--reports", type=Path, default=Path("reports"),
                     help="the reports folder whose fault-ledger.jsonl to read (default: reports/)")
    args = parser.parse_args(argv)
    ledger = Ledger(args.reports / "fault-ledger.jsonl")
    if not ledger.path.exists():
        print(f"gameday: no fault ledger at {ledger.path}: nothing to revert")
        return 0
    states = revert_orphans(ledger)
    open_now = ledger.pending()
    if not states:
        print(f"gameday: no fault left open by a dead run in {ledger.path}"
              + (f" ({len(open_now)} held by running harnesses)" if open_now else ""))
    return 1 if "abandoned" in states else 0


if __name__ == "__main__":
    sys.exit(main())
