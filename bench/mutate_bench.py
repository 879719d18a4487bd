"""``gameday mutate``'s speed, in one run: the same mutants drilled the slow way (each mutant a pytest session of
its own on a lab of its own, one at a time) and the way ``gameday mutate`` does it (``--workers`` labs side by side,
each started once, its alerting made fresh before each drill). Both at ``--time-scale`` (default 60), both
including the drills of the config as it is, which every mutant is judged against.

It prints, for each way: the wall time, mutants per minute, and the sum of the drills' own times (what the labs
spent drilling, without starting labs and sessions); then the ratio of the two wall times, measured in this run,
since these machines are noisy; and, for the fast way, its wall time against that serial sum.

``-k`` picks the mutants as ``gameday mutate -k`` does (default ``ServiceDown:``, its eight rule mutants), and
``--only`` the scenarios that may drill them (default the two that expect ServiceDown, so a few minutes in all;
``--only ''`` takes every scenario, quiet lists and all); ``-k ''`` takes every mutant of the lab (the slow way
then takes well over an hour: give ``--fast-only``). Everything runs on loopback, on labs the run starts.

Run: .venv/bin/python bench/mutate_bench.py [-k TEXT] [--only ID,ID] [--workers 2] [--time-scale 60] [--fast-only]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gameday.mutate.run import mutate  # noqa: E402


def timed(label: str, select: str | None, scale: float, workers: int, batch: int | None,
          scenarios: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="gameday-mutate-bench-") as tmp:
        t0 = time.monotonic()
        run = mutate(ROOT, ROOT / "config", scenarios, Path(tmp), select or None, scale,
                     say=lambda line: print(f"  {label}: {line[:110]}", flush=True), workers=workers, batch=batch)
        wall = time.monotonic() - t0
    drilled = [r for r in run.results if r.drills]
    c = run.counts()
    print(f"  {label}: score {run.score if run.score is None else round(run.score)}%: {c}", flush=True)
    return {"wall": wall, "mutants": len(run.results), "drilled": len(drilled),
            "drill_sum": sum(r.seconds for r in run.results)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", dest="select", default="ServiceDown:")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-scale", type=float, default=60.0)
    ap.add_argument("--only", default="service-outage,gateway-down-runbook")
    ap.add_argument("--fast-only", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gameday-mutate-bench-scenarios-") as tmp:
        scenarios = ROOT / "scenarios"
        if args.only:
            scenarios = Path(tmp)
            for sid in args.only.split(","):
                shutil.copy(ROOT / "scenarios" / f"{sid.strip()}.yaml", scenarios)
        ways = {"fast": timed("fast", args.select, args.time_scale, args.workers, None, scenarios)}
        if not args.fast_only:
            ways["slow"] = timed("slow", args.select, args.time_scale, 1, 1, scenarios)
    print(f"\nmutants {ways['fast']['mutants']} (-k {args.select!r}), time scale {args.time_scale:g}")
    print(f"{'way':44} {'wall s':>8} {'mutants/min':>12} {'drills sum s':>13}")
    names = {"fast": f"{args.workers} labs, each started once, fresh alerting",
             "slow": "a session and a lab per mutant, one at a time"}
    for way, got in ways.items():
        per_min = got["mutants"] / (got["wall"] / 60) if got["wall"] else 0.0
        print(f"{names[way]:44} {got['wall']:8.1f} {per_min:12.1f} {got['drill_sum']:13.1f}")
    fast = ways["fast"]
    print(f"fast way: wall {fast['wall']:.0f}s against a serial sum of its drills of {fast['drill_sum']:.0f}s "
          f"({fast['drill_sum'] / fast['wall']:.2f}x)")
    if "slow" in ways:
        print(f"slow way / fast way, wall time: {ways['slow']['wall'] / fast['wall']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
