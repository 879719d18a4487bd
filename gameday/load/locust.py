"""Load: Locust in its own headless process (or, for a load past one process, Locust's distributed mode: a
master and worker processes on loopback), its stats read back from its CSV output or its web API.

Locust monkey-patches the process it is imported in (gevent), so the harness never imports it:
it runs ``python -m locust`` and reads ``<prefix>_stats.csv``. A steerable run (a traffic surge) also
loads ``gameday/load/shape.py``, which asks Locust for the number of users the harness writes into a
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
from typing import Any

from gameday.core.errors import HarnessError
from gameday.core.processes import CleanOnFailure, die_with_parent
from gameday.target.allowlist import LOOPBACK_ONLY, Reach, check_target

SHAPE = Path(__file__).with_name("shape.py")


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
                 max_seconds: float = 1800, steerable: bool = False, web: bool = False,
                 reach: Reach = LOOPBACK_ONLY, workers: int = 0, pool: Any = None) -> None:
        self.locustfile, self.host = locustfile, check_target(host, reach)
        self.pool = pool
        """Where the workers run when not as local processes (``gameday.k8s.loadworkers.ClusterWorkers``): its
        ``bind_host`` is where the master listens for them."""
        self.control = out_dir / "load-control.json" if steerable else None
        self.users, self.spawn_rate = users, spawn_rate
        self.out_dir = out_dir
        self.prefix = out_dir / "locust"
        self.max_seconds = max(5, int(max_seconds))
        self.proc: subprocess.Popen[bytes] | None = None
        self.reset_wall: float | None = None
        self.log_path = out_dir / "locust.log"
        self.json_path = out_dir / "locust_final"  # Locust adds .json
        self.web_port: int | None = None
        """With ``web``: Locust's web API on loopback, which the harness uses to read and reset its statistics
        live (a run that serves several drills); no browser is involved."""
        if web:
            from gameday.target.ports import free_port

            self.web_port = free_port()
        self.started_at: float | None = None
        """``time.monotonic()`` when the process was started."""
        self.workers = workers
        """0: one Locust process; N: Locust's distributed mode, a master (this run's statistics, its web API and
        shape) and N worker processes on loopback that make the requests."""
        self.worker_procs: list[subprocess.Popen[bytes]] = []
        self._asked_workers: tuple[float, int] = (-1e9, 0)

    def seconds_left(self) -> float:
        """How much of its ``--run-time`` the run has left (all of it before it starts)."""
        if self.started_at is None:
            return float(self.max_seconds)
        return self.started_at + self.max_seconds - time.monotonic()

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in [*self.out_dir.glob(f"{self.prefix.name}_*"), self.log_path]:
            stale.unlink(missing_ok=True)  # never read a previous run's numbers as this one's
        files, env = str(self.locustfile), os.environ.copy()
        if self.control is not None:
            self.steer(self.users, self.spawn_rate)
            files += f",{SHAPE}"
            env["GAMEDAY_LOAD_CONTROL"] = str(self.control)
        mode = ["--headless"] if self.web_port is None else ["--autostart", "--web-host", "127.0.0.1",
                                                             "--web-port", str(self.web_port)]
        distributed: list[str] = []
        if self.workers:
            from gameday.target.ports import free_port

            port = free_port()
            bind = "127.0.0.1" if self.pool is None else self.pool.bind_host
            distributed = ["--master", "--expect-workers", str(self.workers), "--master-bind-host", bind,
                           "--master-bind-port", str(port)]
        argv = [sys.executable, "-m", "locust", "-f", files, *mode, *distributed,
                "-u", str(self.users), "-r", str(self.spawn_rate), "-H", self.host,
                "-t", f"{self.max_seconds}s", "--stop-timeout", "2", "--csv", str(self.prefix),
                "--json-file", str(self.json_path), "--only-summary", "--loglevel", "WARNING",
                "--exit-code-on-error", "0"]
        if self.workers and self.pool is not None:  # first: its image may be built (the workers wait for it)
            self.pool.start(self.workers, port, [Path(f) for f in files.split(",")])
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True, preexec_fn=die_with_parent)
        for i in range(self.workers if self.pool is None else 0):
            with open(self.out_dir / f"locust-worker-{i}.log", "wb") as log:
                self.worker_procs.append(subprocess.Popen(
                    [sys.executable, "-m", "locust", "-f", files, "--worker", "--master-host", "127.0.0.1",
                     "--master-port", str(port), "--loglevel", "WARNING"], stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, env=env, start_new_session=True, preexec_fn=die_with_parent))
        self.started_at = time.monotonic()

    def workers_gone(self) -> list[str]:
        """The workers that are no longer making requests: a process that exited, or one its master counts as
        missing (no heartbeat). Empty for a run of one process."""
        gone = [f"worker {i} exited ({p.returncode})" for i, p in enumerate(self.worker_procs) if p.poll() is not None]
        if self.pool is not None and self.workers:
            gone += self.pool.gone()
        if self.workers and self.web_port is not None and not gone:
            import requests

            now = time.monotonic()
            if now - self._asked_workers[0] >= 0.5:  # the master's view, asked at most twice a second
                try:
                    states = [w.get("state") for w in json.loads(self._web("GET", "/stats/requests"))["workers"]]
                except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError):
                    states = []
                self._asked_workers = (now, states.count("missing"))
            if self._asked_workers[1]:
                gone.append(f"{self._asked_workers[1]} worker(s) missing at the master (no heartbeat)")
        return gone

    # -- the web API of a run that serves several drills ------------------------------------------
    def _web(self, method: str, path: str) -> str:
        import requests

        assert self.web_port is not None, "not started with its web API"
        resp = requests.request(method, f"http://127.0.0.1:{self.web_port}{path}", timeout=5)
        resp.raise_for_status()
        return resp.text

    def reset_window(self) -> None:
        """Start a new statistics window: what ``window_stats`` reports from now on (Locust's stats reset).
        ``reset_wall`` is when, in whole seconds as Locust stamps its history rows (``locust_history``)."""
        before = time.time()
        self._web("POST", "/stats/reset")
        self.reset_wall = float(int((before + time.time()) / 2))

    def window_csv(self) -> str | None:
        """The request statistics since the last ``reset_window``, as Locust's CSV table, read live (not from
        its once-a-second file); None while its web API does not answer."""
        import requests

        try:
            return self._web("GET", "/stats/requests/csv")
        except requests.RequestException:
            return None

    def window_stats(self, text: str | None = None) -> LoadStats | None:
        """``window_csv`` (or ``text``, a table read from it) as figures."""
        text = self.window_csv() if text is None else text
        try:
            return None if text is None else self._parse(list(csv.DictReader(io.StringIO(text))))
        except csv.Error:
            return None

    def steer(self, users: int, spawn_rate: float) -> None:
        """Ask a steerable run for ``users`` (Locust's shape reads the file about once a second)."""
        if self.control is None:
            raise HarnessError("this Locust run was not started steerable: its users cannot change")
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(json.dumps({"users": users, "spawn_rate": spawn_rate}))
        tmp.replace(self.control)  # whole or not at all: the shape never reads half a file

    def user_count(self) -> int | None:
        """The users Locust runs: live from its web API, or as of its last report (about every second) from its
        stats history."""
        if self.web_port is not None:
            import requests

            try:
                return int(json.loads(self._web("GET", "/stats/requests"))["user_count"])
            except (requests.RequestException, ValueError, KeyError, TypeError):
                return None
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
            stats = self.stats() if self.web_port is None else self.window_stats()
            if stats and stats.requests > 0:
                return stats
            time.sleep(0.1)
        raise HarnessError(f"Locust sent no request within {timeout:.0f}s; log: {self.log_path}: {self._tail()}")

    def stats(self) -> LoadStats | None:
        """The latest stats Locust wrote (it rewrites its CSV about every second)."""
        rows = csv_rows(Path(f"{self.prefix}_stats.csv"))
        return None if rows is None else self._parse(rows)

    @staticmethod
    def _parse(rows: list[dict[str, str]]) -> LoadStats | None:
        """Locust's request statistics table (its CSV file, or the same table from its web API)."""
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
        for proc in [self.proc, *self.worker_procs]:  # the master first: it writes the whole run's figures
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.pool is not None and self.workers:
            self.pool.stop()
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


def load_summary(run: LocustRun, window_file: Path) -> dict[str, Any]:
    """What a drill's journal keeps of its load. A run of the drill's own is stopped and its final figures
    read; a borrowed run (``SharedLoad``) goes on serving, and the drill's window of its statistics is
    written to ``window_file``."""
    if run.web_port is not None:
        table = run.window_csv()
        out: dict[str, Any] = {"log": str(run.log_path), "shared": True}
        if table is not None:
            window_file.parent.mkdir(parents=True, exist_ok=True)
            window_file.write_text(table)
            out["csv"] = str(window_file)
        stats = run.window_stats(table)
    else:
        stats = run.stop()
        out = {"log": str(run.log_path), "json": f"{run.json_path}.json"}
    if stats:
        out.update(requests=stats.requests, failures=stats.failures, rps=stats.rps, p50_ms=stats.p50_ms,
                   p95_ms=stats.p95_ms)
    return out


class SharedLoad:
    """One Locust process for a session's drills, so that no drill waits for Locust to start or stop.

    A drill borrows the run: the first borrower starts it (steerable, with its web API on loopback);
    the next ones, asking for the same locustfile and host, find it running, have it steered to their
    users and reset its statistics, so each drill's figures are its own window's. A drill that asks
    for another locustfile or host, or finds the run ended (its ``--run-time``), gets a new one. The
    load keeps flowing between drills, as a service's traffic would. ``close`` stops it.
    """

    def __init__(self, out_dir: Path, max_seconds: float = 1800) -> None:
        self.out_dir, self.max_seconds = out_dir, max_seconds
        self.run: LocustRun | None = None
        self.started = 0
        """How many Locust processes this session started (the benches print it)."""

    def prestart(self, locustfile: Path, host: str, users: int, spawn_rate: float,
                 reach: Reach = LOOPBACK_ONLY, workers: int = 0, pool: Any = None) -> None:
        """Start the session's Locust ahead of the first drill, once the target's services answer and while its
        monitoring is still getting ready, so that Locust's own start-up (about a second) is no drill's. The
        drill's ``borrow`` then finds it flowing. A run that cannot start here is left to ``borrow``, which
        starts one and says why it cannot."""
        if self.run is not None:
            return
        try:
            run = LocustRun(locustfile, host, users, spawn_rate, self.out_dir, self.max_seconds, steerable=True,
                            web=True, reach=reach, workers=workers, pool=pool)
            run.start()
        except (OSError, HarnessError):
            return
        self.run = run
        self.started += 1

    def borrow(self, locustfile: Path, host: str, users: int, spawn_rate: float,
               reach: Reach = LOOPBACK_ONLY, workers: int = 0, pool: Any = None, for_seconds: float = 0.0) -> LocustRun:
        """The session's run, steered to ``users``; a new one where the running one is another locustfile's or
        host's, or has less than ``for_seconds`` left of its ``--run-time`` (past it, Locust runs no user but
        its process stays up, with its web API)."""
        run = self.run
        if run is None or not run.running() or run.workers_gone() or run.seconds_left() < for_seconds or \
                (run.locustfile, run.host, run.workers) != (locustfile, check_target(host, reach), workers):
            self.close()
            run = self.run = LocustRun(locustfile, host, users, spawn_rate, self.out_dir,
                                       max(self.max_seconds, for_seconds), steerable=True, web=True, reach=reach,
                                       workers=workers, pool=pool)
            run.start()
            self.started += 1
        run.wait_flowing()  # a new run's first requests; at once when the load already flows
        if (run.users, run.spawn_rate) != (users, spawn_rate):
            run.users, run.spawn_rate = users, spawn_rate
            run.steer(users, max(spawn_rate, 1.0))
            deadline = time.monotonic() + 10 + abs(users - (run.user_count() or 0)) / max(spawn_rate, 1.0)
            while run.user_count() != users and time.monotonic() < deadline and run.running():
                time.sleep(0.1)
        run.reset_window()
        return run

    def close(self) -> None:
        if self.run is not None:
            self.run.stop()
            self.run = None
