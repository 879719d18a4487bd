"""Flake hunt: run the test suite and the drills many times in a row and list every test that did not always pass.

Each run is a fresh pytest process with its own reports folder and JUnit file; a test counts as
flaky when it passed in some runs and not in others, and as broken when it never passed. The
outcome of every run is written to ``<out>/hunt.json`` as it goes, so a long hunt can be read
before it ends.

Run: .venv/bin/python bench/flake_hunt.py --suite 20 --drill 20 --repeat 50 [--out reports/flake-hunt]
  --suite N    ``pytest tests/`` N times (the whole suite, as ./run tests runs it)
  --drill M    ``pytest gamedays/ -m p0 --time-scale 60`` M times (the README's drill)
  --repeat K   ``pytest gamedays/test_repeat.py --time-scale 60`` K times (back-to-back outages)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
KINDS = {
    "suite": ["tests/"],
    "drill": ["gamedays/", "-m", "p0", "--time-scale", "60"],
    "repeat": ["gamedays/test_repeat.py", "-m", "p1", "--time-scale", "60"],
}


def outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """Test id -> (outcome, first line of the reason) from a JUnit file."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                reason = (node.get("message") or node.text or "").strip().splitlines()[0][:300] if (
                    node.get("message") or node.text) else ""
                break
        out[name] = (outcome, reason)
    return out


def run_once(kind: str, index: int, out: Path) -> dict:
    folder = out / f"{kind}-{index:03d}"
    folder.mkdir(parents=True, exist_ok=True)
    junit = folder / "junit.xml"
    argv = [*PYTEST, *KINDS[kind], "--junitxml", str(junit), "--alluredir", str(folder / "allure")]
    if kind != "suite":
        argv += ["--reports", str(folder / "reports")]
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=None, timeout=3600)
    wall = time.monotonic() - t0
    (folder / "output.txt").write_text(proc.stdout + proc.stderr)
    tests = outcomes(junit) if junit.exists() else {}
    if not tests:
        tests = {f"{kind}::(whole run)": ("error", f"exit {proc.returncode}, no JUnit results")}
    return {"kind": kind, "index": index, "rc": proc.returncode, "wall": round(wall, 1), "tests": tests}


def summarize(runs: list[dict]) -> tuple[list[str], dict[str, dict]]:
    per_test: dict[str, dict] = defaultdict(lambda: {"passed": 0, "not_passed": 0, "reasons": []})
    for run in runs:
        for name, (outcome, reason) in run["tests"].items():
            row = per_test[f"[{run['kind']}] {name}"]
            if outcome == "passed":
                row["passed"] += 1
            else:
                row["not_passed"] += 1
                row["reasons"].append(f"run {run['index']}: {outcome}: {reason}")
    lines = []
    for kind in KINDS:
        mine = [r for r in runs if r["kind"] == kind]
        if not mine:
            continue
        green = sum(1 for r in mine if r["rc"] == 0)
        walls = sorted(r["wall"] for r in mine)
        lines.append(f"{kind}: {green} of {len(mine)} runs passed; wall time median {walls[len(walls) // 2]}s, "
                     f"max {walls[-1]}s")
    bad = {k: v for k, v in per_test.items() if v["not_passed"]}
    if not bad:
        lines.append(f"every one of {len(per_test)} tests passed in every run")
    for name, row in sorted(bad.items()):
        lines.append(f"NOT ALWAYS PASSED {name}: passed {row['passed']}, not passed {row['not_passed']}")
        lines.extend(f"    {r}" for r in row["reasons"][:5])
    return lines, dict(per_test)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=int, default=0, metavar="N")
    ap.add_argument("--drill", type=int, default=0, metavar="M")
    ap.add_argument("--repeat", type=int, default=0, metavar="K")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "flake-hunt")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    plan = [(k, i) for k, n in (("repeat", args.repeat), ("drill", args.drill), ("suite", args.suite))
            for i in range(1, n + 1)]
    for kind, i in plan:
        run = run_once(kind, i, args.out)
        runs.append(run)
        bad = [n for n, (o, _) in run["tests"].items() if o != "passed"]
        print(f"{kind} run {i}: exit {run['rc']} in {run['wall']}s" + (f"; not passed: {', '.join(bad)}" if bad
                                                                      else ""), flush=True)
        lines, per_test = summarize(runs)
        (args.out / "hunt.json").write_text(json.dumps({"runs": runs, "summary": lines}, indent=2))
    lines, _ = summarize(runs)
    print("\n".join(lines))
    return 0 if all(r["rc"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
