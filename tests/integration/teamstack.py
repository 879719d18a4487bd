"""A team's stack that the tests start, not gameday: Debian's nginx with its Prometheus exporter, and a Prometheus
and an Alertmanager with a rule set and routes the tests own. The team's real pager is a small HTTP sink; the team
adds gameday's webhook, with the run's secret from a file, to its on-call receiver, as the docs show."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

NGINX, EXPORTER = "/usr/sbin/nginx", "/usr/bin/prometheus-nginx-exporter"

NGINX_CONF = """daemon on;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    server {{ listen 127.0.0.1:{web}; location / {{ return 200 "shop ok\\n"; }} }}
    server {{ listen 127.0.0.1:{status}; location /stub_status {{ stub_status; }} }}
}}
"""

RULES = """groups:
  - name: shop
    interval: 1s
    rules:
      - alert: ShopDown
        expr: {shop_down}
        for: 3s
        labels: {severity: page}
        annotations:
          summary: the shop's nginx does not answer its exporter
          runbook_url: runbooks/shop-down.md
      - alert: ShopSlow
        expr: nginx_http_requests_total < 0
        for: 3s
        labels: {severity: ticket}
        annotations: {summary: never fires, runbook_url: runbooks/shop-down.md}
"""

PROMETHEUS = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{am}']}}]
scrape_configs:
  - job_name: shop
    static_configs: [{{targets: ['127.0.0.1:{exporter}']}}]
"""

ALERTMANAGER = """route:
  receiver: tickets
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="page"']
      receiver: {page_to}
receivers:
  - name: oncall
    webhook_configs:
      - url: http://127.0.0.1:{pager}/oncall       # the team's real pager
        send_resolved: true
{gameday_oncall}  - name: tickets
    webhook_configs:
      - url: http://127.0.0.1:{pager}/tickets
        send_resolved: true
{gameday_tickets}"""

GAMEDAY_WEBHOOK = """      - url: http://127.0.0.1:{gameday}/{receiver}     # gameday's receiver, added beside it
        send_resolved: true
        http_config:
          authorization:
            credentials_file: {secret}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Sink(BaseHTTPRequestHandler):
    got: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        type(self).got.append({"path": self.path, "body": json.loads(body or b"{}")})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class TeamStack:
    folder: Path
    ports: dict[str, int]
    secret: Path
    with_gameday: bool = True
    """The team added gameday's webhook to its receivers (for pages proved delivered)."""
    shop_down: str = 'nginx_up == 0 or up{job="shop"} == 0'
    """ShopDown's expression: down, or hung (a frozen nginx fails its exporter's scrape)."""
    procs: list[subprocess.Popen] = field(default_factory=list)
    pager: ThreadingHTTPServer | None = None

    @property
    def nginx_start(self) -> list[str]:
        return [NGINX, "-c", str(self.folder / "nginx.conf"), "-p", str(self.folder)]

    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.ports[part]}"

    def start(self, page_to: str = "oncall") -> TeamStack:
        f = self.folder
        for sub in ("tmp", "tsdb", "am"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        (f / "nginx.conf").write_text(NGINX_CONF.format(folder=f, **self.ports))
        (f / "rules.yml").write_text(RULES.replace("{shop_down}", self.shop_down))
        (f / "prometheus.yml").write_text(PROMETHEUS.format(rules=f / "rules.yml", **self.ports))
        hooks = {f"gameday_{r}": GAMEDAY_WEBHOOK.format(receiver=r, secret=self.secret, gameday=self.ports["gameday"])
                 if self.with_gameday else "" for r in ("oncall", "tickets")}
        (f / "alertmanager.yml").write_text(ALERTMANAGER.format(secret=self.secret, page_to=page_to, **hooks,
                                                                **self.ports))
        _Sink.got = []
        self.pager = ThreadingHTTPServer(("127.0.0.1", self.ports["pager"]), _Sink)
        threading.Thread(target=self.pager.serve_forever, daemon=True).start()
        subprocess.run(self.nginx_start, check=True, timeout=30)
        logs = f / "logs"
        logs.mkdir(exist_ok=True)
        for name, argv in (
            ("exporter", [EXPORTER, f"--nginx.scrape-uri={self.url('status')}/stub_status",
                          f"--web.listen-address=127.0.0.1:{self.ports['exporter']}"]),
            ("alertmanager", [shutil.which("prometheus-alertmanager") or "alertmanager",
                              f"--config.file={f / 'alertmanager.yml'}", f"--storage.path={f / 'am'}",
                              f"--web.listen-address=127.0.0.1:{self.ports['am']}", "--cluster.listen-address="]),
            ("prometheus", ["prometheus", f"--config.file={f / 'prometheus.yml'}", f"--storage.tsdb.path={f / 'tsdb'}",
                            f"--web.listen-address=127.0.0.1:{self.ports['prom']}"])):
            out = (logs / f"{name}.log").open("w")
            self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                up = requests.get(f"{self.url('prom')}/api/v1/query", params={"query": "nginx_up"}, timeout=2).json()
                ready = requests.get(f"{self.url('am')}/-/ready", timeout=2).status_code == 200
                if ready and any(r["value"][1] == "1" for r in up["data"]["result"]):
                    return self
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"the team's stack did not come up: see {logs}")

    def nginx_pid(self) -> int | None:
        try:
            return int((self.folder / "nginx.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if (pid := self.nginx_pid()) is not None:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
        if self.pager is not None:
            self.pager.shutdown()
            self.pager.server_close()

    def pages(self) -> list[dict]:
        """What the team's real pager received."""
        return list(_Sink.got)


def needs_nginx() -> None:
    missing = [b for b in (NGINX, EXPORTER) if not Path(b).exists()]
    if missing:
        pytest.skip(f"the team-stack tests need Debian's nginx-light and prometheus-nginx-exporter: {missing} "
                    "missing (./run tests installs them)")


def team_stack(folder: Path, page_to: str = "oncall", shop_down: str | None = None,
               with_gameday: bool = True) -> TeamStack:
    needs_nginx()
    secret = folder / "gameday-webhook-secret"
    folder.mkdir(parents=True, exist_ok=True)
    secret.write_text("a-secret-the-team-shares-with-gameday-" + os.urandom(8).hex() + "\n")
    secret.chmod(0o600)
    ports = {k: free_port() for k in ("web", "status", "exporter", "prom", "am", "pager", "gameday")}
    stack = TeamStack(folder, ports, secret, with_gameday=with_gameday)
    if shop_down is not None:
        stack.shop_down = shop_down
    return stack.start(page_to)
