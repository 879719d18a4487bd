"""Checks of the values a run is started with: each answers None, or one sentence saying what is wrong and what
would do. The plugin turns them into ``pytest.UsageError``; ``gameday lab up`` prints them."""

from __future__ import annotations

import errno
import math
import os
import tempfile
from pathlib import Path

TIME_SCALE_RANGE = (0.1, 300.0)
"""The lab scrapes every 5 s / N: above 300 that is faster than every 17 ms, which Prometheus cannot keep up with
on these machines; below 0.1 a drill's SLA stretches past hours."""
WATCHDOG_RANGE = (5.0, 3600.0)
"""The harness beats once a second: a bound under five beats would take a live fault out from under a drill."""
REPORTS_FREE = 64 * 2 ** 20
"""Room a run needs in its reports folder: journals, plots, Locust's CSVs, the lab's logs and TSDB."""


def time_scale_problem(scale: float, what: str = "--time-scale") -> str | None:
    low, high = TIME_SCALE_RANGE
    if not (math.isfinite(scale) and low <= scale <= high):
        return (f"{what} {scale:g}: between {low:g} and {high:g} (every duration of the rules, routes, SLAs and "
                f"MTTR goals is divided by it; the lab then scrapes every {5 / high * 1000:.0f} ms at the fastest)")
    return None


def watchdog_problem(bound: float) -> str | None:
    low, high = WATCHDOG_RANGE
    if bound == 0 or (math.isfinite(bound) and low <= bound <= high):
        return None
    return (f"--watchdog {bound:g}: 0 (no watchdog) or between {low:g} and {high:g} seconds; the harness's heartbeat "
            "comes every second, and a shorter bound would revert a live fault in the middle of its drill")


def reports_problem(folder: Path) -> str | None:
    """Whether a run can write its reports in ``folder`` (made when missing): a folder, writable, with room."""
    if folder.exists() and not folder.is_dir():
        return f"--reports {folder}: not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".gameday-probe-"):
            pass
    except OSError as exc:
        why = "read-only" if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else (exc.strerror or str(exc))
        return f"--reports {folder}: cannot write there ({why})"
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    if free < REPORTS_FREE:
        return (f"--reports {folder}: only {free / 2 ** 20:.1f} MiB free; a run needs about "
                f"{REPORTS_FREE // 2 ** 20} MiB for its journals, logs and the lab's data")
    return None
