"""Load: Locust in its own headless process, its stats read back from its CSV output.

Locust monkey-patches the process it is imported in (gevent), so the harness never imports it:
it runs ``python -m locust`` and reads ``<prefix>_stats.csv``. A steerable run (a traffic surge) also
loads ``gameday/locust_shape.py``, which asks Locust for the number of users the harness writes into a
control file; the users Locust really runs are read back from ``<prefix>_stats_history.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import HarnessError
from gameday.lifecycle import CleanOnFailure, die_with_parent
from gameday.safety import check_target

SHAPE = Path(__file__).with_name("locust_shape.py")


@dataclass(frozen=True)
class LoadStats:
    requests: int
    failures: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    rows: list[dict[str, str]]


def csv_rows(path: Path) -> list[dict[str, str]] | None:
    """The rows of a CSV that Locust writes while we read, or None when it cannot be read now. Read in one go:
    Locust rewrites its stats file every second, so a file opened empty can have its header by the first read."""
    try:
        return list(csv.DictReader(io.StringIO(path.read_text())))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


class LocustRun(CleanOnFailure):
    """One bounded Locust run: a context manager that always stops the process."""

    def __init__(self, locustfile: Path, host: str, users: int, spawn_rate: float, out_dir: Path,
                 max_seconds: float = 1800, steerable: bool = False) -> None:
        self.locustfile, self.host = locustfile, check_target(host)
        self.control = out_dir / "load-control.json" if steerable else None
        self.users, self.spawn_rate = users, spawn_rate
        self.out_dir = out_dir
        self.prefix = out_dir / "locust"
        self.max_seconds = max(5, int(max_seconds))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = out_dir / "locust.log"
        self.json_path = out_dir / "locust_final"  # Locust adds .json

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in [*self.out_dir.glob(f"{self.prefix.name}_*"), self.log_path]:
            stale.unlink(missing_ok=True)  # never read a previous run's numbers as this one's
        files, env = str(self.locustfile), os.environ.copy()
        if self.control is not None:
            self.steer(self.users, self.spawn_rate)
            files += f",{SHAPE}"
            env["GAMEDAY_LOAD_CONTROL"] = str(self.control)
        argv = [sys.executable, "-m", "locust", "-f", files, "--headless",
                "-u", str(self.users), "-r", str(self.spawn_rate), "-H", self.host,
                "-t", f"{self.max_seconds}s", "--stop-timeout", "2", "--csv", str(self.prefix),
                "--json-file", str(self.json_path), "--only-summary", "--loglevel", "WARNING",
                "--exit-code-on-error", "0"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True, preexec_fn=die_with_parent)

    def steer(self, users: int, spawn_rate: float) -> None:
        """Ask a steerable run for ``users`` (Locust's shape reads the file about once a second)."""
        if self.control is None:
            raise HarnessError("this Locust run was not started steerable: its users cannot change")
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(json.dumps({"users": users, "spawn_rate": spawn_rate}))
        tmp.replace(self.control)  # whole or not at all: the shape never reads half a file

    def user_count(self) -> int | None:
        """The users Locust ran at its last report (about every second), from its stats history."""
        rows = csv_rows(Path(f"{self.prefix}_stats_history.csv"))
        last = rows[-1] if rows else None  # the latest
        try:
            return int(last["User Count"]) if last else None
        except (KeyError, TypeError, ValueError):
            return None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_flowing(self, timeout: float = 30.0) -> LoadStats:
        """Block until Locust has sent requests; raise with its log's tail if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise HarnessError(f"Locust exited early; log: {self.log_path}: {self._tail()}")
            stats = self.stats()
            if stats and stats.requests > 0:
                return stats
            time.sleep(0.1)
        raise HarnessError(f"Locust sent no request within {timeout:.0f}s; log: {self.log_path}: {self._tail()}")

    def stats(self) -> LoadStats | None:
        """The latest stats Locust wrote (it rewrites its CSV about every second)."""
        rows = csv_rows(Path(f"{self.prefix}_stats.csv"))
        if rows is None:
            return None
        total = next((r for r in rows if r.get("Name") == "Aggregated"), None)
        if total is None:
            return None

        def num(key: str) -> float | None:
            try:
                return float(total[key])
            except (KeyError, TypeError, ValueError):
                return None

        return LoadStats(int(num("Request Count") or 0), int(num("Failure Count") or 0), num("Requests/s") or 0.0,
                         num("50%"), num("95%"), rows)

    def stop(self, timeout: float = 10.0) -> LoadStats | None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.final_stats() or self.stats()

    def _tail(self, lines: int = 3) -> str:
        """The last lines of Locust's log: where a locustfile that fails to load says why."""
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])[-600:]
        except OSError:
            return "(no log)"

    def final_stats(self) -> LoadStats | None:
        """The whole run's stats, from the JSON Locust writes as it exits."""
        path = Path(f"{self.json_path}.json")
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        hist: dict[float, int] = {}
        requests = failures = 0
        first, last = float("inf"), 0.0
        rows = []
        for e in entries:
            requests += e.get("num_requests", 0)
            failures += e.get("num_failures", 0)
            first = min(first, e.get("start_time", first))
            last = max(last, e.get("last_request_timestamp") or 0.0)
            for ms, count in (e.get("response_times") or {}).items():
                hist[float(ms)] = hist.get(float(ms), 0) + count
            rows.append({"Type": e.get("method", ""), "Name": e.get("name", ""),
                         "Request Count": str(e.get("num_requests", 0)),
                         "Failure Count": str(e.get("num_failures", 0))})
        span = last - first if last > first else 0.0
        return LoadStats(requests, failures, requests / span if span else 0.0, _percentile(hist, 0.5),
                         _percentile(hist, 0.95), rows)


def _percentile(hist: dict[float, int], q: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    seen = 0
    for ms in sorted(hist):
        seen += hist[ms]
        if seen >= q * total:
            return ms
    return max(hist)
