"""The whole catalog at one time scale on one lab, in one run: how close each drill comes to its floor, and
what the harness costs while it waits.

For every scenario in ``scenarios/`` (sorted, as ``pytest gamedays/`` runs them), one drill on a single lab:

- its wall time, from baseline load flowing (after any clean slate) to the end of the resolve phase, beside
  its floor (``drill_bench.drill_floor``: steady state, the slowest expected page by the pipeline's floor or
  a rate window's expected crossing, or the fault's hold, then the slowest recovery its rules allow);
- the catalog's total wall time over the sum of the floors (target <= 1.5), and with the clean slates and
  Locust's start-up counted too;
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

from drill_bench import drill_once, lab_at, print_cpu, waiting_cpu  # noqa: E402

from gameday.scenario import load_catalog  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=60.0, help="time scale (default 60)")
    parser.add_argument("--only", default="", help="comma-separated scenario ids (default: the whole catalog)")
    args = parser.parse_args()
    entries = [e for e in load_catalog(ROOT / "scenarios", ROOT) if e.scenario is not None]
    if args.only:
        wanted = set(args.only.split(","))
        entries = [e for e in entries if e.id in wanted]
    work = Path(tempfile.mkdtemp(prefix="gameday-catalog-"))
    rows, cpu = [], []
    t0 = time.monotonic()
    with lab_at(work / "lab", args.scale) as lab:
        lab_ready = time.monotonic() - t0
        for entry in entries:
            assert entry.scenario is not None
            wall, full, floor, rec = drill_once(lab, entry.scenario, args.scale, work)
            rows.append((entry.id, wall, full, floor))
            cpu += waiting_cpu(rec, entry.id)
            print(f"{entry.id:<22} wall {wall:6.2f}s  floor {floor:6.2f}s  wall/floor {wall / floor:5.2f}  "
                  f"(with load start-up and clean slate {full:6.2f}s: {full / floor:5.2f})", flush=True)
    total = time.monotonic() - t0
    walls, fulls, floors = (sum(r[i] for r in rows) for i in (1, 2, 3))
    ratio = walls / floor_or_1(floors)
    print(f"catalog of {len(rows)} drills at time scale {args.scale:g}: wall / floor = {ratio:.2f} "
          f"({walls:.1f}s over {floors:.1f}s; target <= 1.5); counting load start-up and clean slates "
          f"{fulls / floor_or_1(floors):.2f}; the whole run with the lab's start ({lab_ready:.1f}s) {total:.1f}s")
    print_cpu(cpu, indent="")
    return 0


def floor_or_1(x: float) -> float:
    return x if x > 0 else 1.0


if __name__ == "__main__":
    raise SystemExit(main())
