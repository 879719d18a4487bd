"""Cost as the work grows: the catalog run 1, 2 and 4 times over, with and without ``-n 2``, in one run.

For each number of copies, a scenario folder holds that many copies of the catalog (each copy's ids end in
``-cN``), and ``pytest gamedays/ -k test_drill --scenarios FOLDER --time-scale S`` runs it as a user would:
once in one process, once with ``-n 2`` (a lab per worker). Each line gives the run's wall time, the drills
that passed out of those run, and the wall time per drill; the last column is the serial run's wall time
over the parallel one's, measured side by side in this run. A run in which a drill did not pass is
marked: its time is not the catalog's.

Run: .venv/bin/python bench/scale_bench.py [--copies 1,2,4] [--scale 60] [-m p0] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from pytest_argv import gamedays_argv

ROOT = Path(__file__).resolve().parent.parent


def catalog_copies(folder: Path, copies: int) -> int:
    """``copies`` copies of every scenario in ``scenarios/`` into ``folder``; how many files were written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for source in sorted((ROOT / "scenarios").glob("*.yaml")):
        data = yaml.safe_load(source.read_text())
        for n in range(1, copies + 1):
            copy = dict(data, id=f"{data['id']}-c{n}")
            (folder / f"{copy['id']}.yaml").write_text(yaml.safe_dump(copy, sort_keys=False))
            written += 1
    return written


def run(folder: Path, work: Path, scale: float, marker: str, workers: int) -> tuple[float, int, int, str]:
    """One pytest run of the folder's drills: wall seconds, drills passed, drills run, the summary line."""
    argv = gamedays_argv(work / "reports", work / "allure", "-k", "test_drill", "-q", "--scenarios", str(folder),
                         "--time-scale", f"{scale:g}")
    if marker:
        argv += ["-m", marker]
    if workers > 1:
        argv += ["-n", str(workers)]
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=work, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=7200,
                          env={**os.environ, "CI": "true"})
    wall = time.monotonic() - t0
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    count = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error|errors|skipped)", last)}
    ran = sum(count.values())
    return wall, count.get("passed", 0), ran, last.strip("= ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", default="1,2,4", help="numbers of catalog copies (default 1,2,4)")
    parser.add_argument("--scale", type=float, default=60.0, help="time scale (default 60)")
    parser.add_argument("-m", dest="marker", default="", help="only drills with this marker (e.g. p0)")
    parser.add_argument("--workers", type=int, default=2, help="the -n of the parallel runs (default 2)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="gameday-scale-"))
    print(f"{'copies':>6} {'mode':>6} {'drills':>9} {'wall':>8} {'per drill':>10} {'serial/parallel':>16}")
    for copies in (int(c) for c in args.copies.split(",")):
        folder = base / f"copies-{copies}" / "scenarios"
        catalog_copies(folder, copies)
        walls = {}
        for workers in (1, args.workers):
            mode = "serial" if workers == 1 else f"-n {workers}"
            wall, passed, ran, last = run(folder, folder.parent / mode.replace(" ", ""), args.scale, args.marker,
                                          workers)
            walls[workers] = wall
            ratio = f"{walls[1] / wall:16.2f}" if workers > 1 else ""
            flag = "" if passed == ran and ran else f"  NOT ALL PASSED: {last}"
            print(f"{copies:>6} {mode:>6} {passed:>4}/{ran:<4} {wall:7.1f}s {wall / max(ran, 1):9.1f}s{ratio}{flag}",
                  flush=True)
    print(f"(folders kept in {base})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
