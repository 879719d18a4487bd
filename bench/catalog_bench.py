"""The whole catalog at one time scale on one lab, in one run: how close each drill comes to its floor, and
what the harness costs while it waits.

For every scenario in ``scenarios/`` (longest first, as ``pytest gamedays/`` runs them), one drill on a single lab,
all borrowing one Locust as a pytest session's drills do:

- its wall time, from preflight to the resolved page with everything counted (Locust's start-up in the
  first drill, clean slates), beside its floor, both split into steady state, detection, recovery and
  resolution (``drill_bench.drill_once``), so the slow part of each drill shows;
- the catalog's total wall time over the sum of the floors (target <= 1.25), and what the parts add up to;
- the harness's own CPU while it waits (steady state, detect, recover, resolve) as a share of one core,
  from each phase's process CPU in the journal (target < 2%): the median and the worst drill of each phase.

A drill that does not PASS stops the run with its reasons: a figure from a failed drill means nothing.

Run: .venv/bin/python bench/catalog_bench.py [--scale 60] [--only ID,ID]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drill_bench import SPLIT, Measured, drill_once, lab_at, print_cpu, waiting_cpu  # noqa: E402

from gameday.load.locust import SharedLoad  # noqa: E402
from gameday.scenario.loading import load_catalog  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=60.0, help="time scale (default 60)")
    parser.add_argument("--only", default="", help="comma-separated scenario ids (default: the whole catalog)")
    args = parser.parse_args()
    entries = [e for e in load_catalog(ROOT / "scenarios", ROOT) if e.scenario is not None]
    entries.sort(key=lambda e: e.scenario.length_bound(), reverse=True)  # as pytest orders them: longest first
    if args.only:
        wanted = set(args.only.split(","))
        entries = [e for e in entries if e.id in wanted]
    work = Path(tempfile.mkdtemp(prefix="gameday-catalog-"))
    rows: list[Measured] = []
    cpu: list[tuple[str, float, float, str]] = []
    t0 = time.monotonic()
    loads = SharedLoad(work / "load" / "session")
    with lab_at(work / "lab", args.scale) as lab:
        lab_ready = time.monotonic() - t0
        try:
            for entry in entries:
                assert entry.scenario is not None
                m = drill_once(lab, entry.scenario, args.scale, work, loads)
                rows.append(m)
                cpu += waiting_cpu(m.record, entry.id)
                print(f"{entry.id:<22} {m.line()}", flush=True)
        finally:
            loads.close()
    total = time.monotonic() - t0
    walls, floors = sum(m.wall for m in rows), sum(m.floor for m in rows)
    print(f"catalog of {len(rows)} drills at time scale {args.scale:g}: wall / floor = {walls / floor_or_1(floors):.2f}"
          f" ({walls:.1f}s over {floors:.1f}s, everything from preflight to the resolved page counted; "
          f"target <= 1.25); the whole run with the lab's start ({lab_ready:.1f}s) and the verdicts {total:.1f}s; "
          f"Locust processes started: {loads.started}")
    for part in SPLIT:
        spent, least = sum(m.parts[part] for m in rows), sum(m.floors[part] for m in rows)
        print(f"  {part:<13} {spent:7.1f}s over a floor of {least:7.1f}s")
    print(f"  clean slates  {sum(m.clean_slate for m in rows):7.1f}s of the steady states "
          f"({sum(1 for m in rows if m.clean_slate)} drills); verdicts after the drills "
          f"{sum(m.verdict for m in rows):.1f}s")
    print_cpu(cpu, indent="")
    return 0


def floor_or_1(x: float) -> float:
    return x if x > 0 else 1.0


if __name__ == "__main__":
    raise SystemExit(main())
