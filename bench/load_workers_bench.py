"""Requests per second from Locust in one process, beside Locust's distributed mode with 1, 2 and 4 workers, in
one run against one target on loopback (nginx serving a small page, or Python's own HTTP server where nginx is
missing: then the target, not Locust, may be the limit, and the table says so).

Each setting runs ``--seconds`` (default 10) of users that wait for nothing, through ``gameday.load.locust``'s
``LocustRun`` as a drill starts it, and reads the master's figures; ratios are against the single process of
this same run, since these machines are noisy. Every run is bounded in time, and only loopback is reached.

Run: .venv/bin/python bench/load_workers_bench.py [--seconds 10] [--users 40]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gameday.load.locust import LocustRun  # noqa: E402
from gameday.target.ports import free_port  # noqa: E402

LOCUSTFILE = '''
from locust import FastHttpUser, constant, task


class Flat(FastHttpUser):
    wait_time = constant(0)

    @task
    def page(self):
        self.client.get("/")
'''

NGINX = """worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
    uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
    server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok"; }} }}
}}
"""


def serve(work: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx:
        (work / "tmp").mkdir()
        conf = work / "nginx.conf"
        conf.write_text(NGINX.format(work=work, port=port))
        proc = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        what = "nginx (2 worker processes)"
    else:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                 "--directory", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        what = "python -m http.server (one process: it may be the limit)"
    deadline = time.monotonic() + 10
    import requests

    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}", what


def measure(locustfile: Path, host: str, users: int, workers: int, seconds: float, work: Path) -> tuple[float, int]:
    run = LocustRun(locustfile, host, users, users, work / f"w{workers}", max_seconds=seconds + 30, workers=workers)
    with run:
        run.wait_flowing(60)
        time.sleep(seconds)
        stats = run.stop()
    assert stats is not None and stats.requests > 0, f"no figures from {workers} worker(s): {run.log_path}"
    return stats.rps, stats.requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per setting (default 10)")
    parser.add_argument("--users", type=int, default=40, help="users, shared among the workers (default 40)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gameday-load-bench-"))
    locustfile = work / "flat.py"
    locustfile.write_text(LOCUSTFILE)
    server, host, what = serve(work)
    try:
        print(f"target: {what} at {host}; {args.users} users waiting for nothing, {args.seconds:g}s each; "
              f"{os.cpu_count()} cores", flush=True)
        rows = []
        for workers in (0, 1, 2, 4):
            rps, requests = measure(locustfile, host, args.users, workers, args.seconds, work)
            rows.append((workers, rps, requests))
            label = "one process" if workers == 0 else f"master + {workers} worker(s)"
            print(f"  {label:<22} {rps:9.0f} req/s  ({requests} requests)", flush=True)
        base = rows[0][1]
        print("\nratio to one process:  " + "   ".join(
            f"{'1 process' if w == 0 else f'{w} workers'}: {rps / base:.2f}x" for w, rps, _ in rows))
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
