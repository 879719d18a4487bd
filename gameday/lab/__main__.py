"""``python -m gameday.lab``: bring the lab up by hand, to try runbook commands against it."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

from gameday.core.errors import GamedayError
from gameday.core.signals import SignalStop
from gameday.lab.stack import Lab, LabConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gameday.lab",
                                     description="Start the embedded lab on loopback and keep it up until Ctrl-C.")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder holding config/ and runbooks/")
    parser.add_argument("--time-scale", type=float, default=1.0, help="divide every monitoring duration by N")
    parser.add_argument("command", nargs="?", choices=("up", "env"), default="up",
                        help="up: start the lab and keep it up (default); env: print shell exports of the "
                             "running lab's endpoints: eval \"$(python -m gameday.lab env)\"")
    args = parser.parse_args(argv)
    if args.command == "env":
        return print_env(args.root / "reports" / "lab" / "endpoints.json")
    stop = SignalStop((signal.SIGTERM,))
    try:
        with Lab(LabConfig(args.root, args.root / "reports" / "lab", args.time_scale)) as lab:
            assert lab.endpoints
            print(f"lab ready in {lab.started_in:.1f}s (time scale {args.time_scale:g})")
            for name, url in lab.endpoints.as_dict().items():
                print(f"  {name:<13} {url}")
            print(f"  endpoints are also in {args.root / 'reports/lab/endpoints.json'}; Ctrl-C stops the lab")
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    except GamedayError as exc:
        print(f"gameday: {exc}", file=sys.stderr)
        return 2
    return 0


def print_env(path: Path) -> int:
    """Shell exports for the endpoints of the lab that is up now (GATEWAY, PROMETHEUS, ...)."""
    import json

    try:
        endpoints = json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"gameday: no running lab ({path} is missing); start one with `python -m gameday.lab`",
              file=sys.stderr)
        return 2
    for name, url in endpoints.items():
        print(f"export {name.upper()}={url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
