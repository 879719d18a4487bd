"""A team's stack that the tests start, not gameday: Debian's nginx with its Prometheus exporter, and a Prometheus
and an Alertmanager with a rule set and routes the tests own. The team's real pager is a small HTTP sink; the team
adds gameday's webhook, with the run's secret from a file, to its on-call receiver, as the docs show.

On loopback by default. ``secured=True`` puts it where a team's staging is: the stack in a network namespace of its
own with an address that is not loopback (10.250.N.2, across a veth pair from this host's 10.250.N.1, where the
pager and gameday's receiver listen), and Prometheus and Alertmanager behind TLS (a CA the test makes, with
``openssl``) and basic auth (their ``--web.config.file``); Prometheus reaches Alertmanager the same way."""

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
    server {{ listen {host}:{web}; location / {{ return 200 "shop ok\\n"; }} }}
    server {{ listen {host}:{status}; location /stub_status {{ stub_status; }} }}
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
    - static_configs: [{{targets: ['{host}:{am}']}}]
{am_client}scrape_configs:
{scrapes}"""

SCRAPE = """  - job_name: {job}
    static_configs: [{{targets: ['{target}']}}]
"""

AM_CLIENT = """      scheme: https
      tls_config: {{ca_file: {ca}, server_name: {server_name}}}
      basic_auth: {{username: {user}, password_file: {password}}}
"""

WEB_CONFIG = """tls_server_config:
  cert_file: {cert}
  key_file: {key}
basic_auth_users:
  {user}: {hashed}
"""

SERVER_NAME = "monitoring.shop.test"
USER = "gameday"

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
      - url: http://{gw}:{pager}/oncall       # the team's real pager
        send_resolved: true
{gameday_oncall}  - name: tickets
    webhook_configs:
      - url: http://{gw}:{pager}/tickets
        send_resolved: true
{gameday_tickets}"""

GAMEDAY_WEBHOOK = """      - url: http://{gw}:{gameday}/{receiver}     # gameday's receiver, added beside it
        send_resolved: true
        http_config:
          authorization:
            credentials_file: {secret}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Netns:
    """A network namespace the test made, joined to this host by a veth pair: ``host`` is this side's address,
    ``inside`` the namespace's."""

    name: str
    host: str
    inside: str

    @property
    def network(self) -> str:
        return self.host.rpartition(".")[0] + ".0/30"

    def run(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    @classmethod
    def make(cls) -> Netns:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            pytest.skip("a network namespace needs root and iproute2's ip")
        used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
        tag = os.urandom(3).hex()
        third = next(n for n in range(int(tag, 16) % 200 + 20, 256) if f"10.250.{n}." not in used)
        ns = cls(f"gd-shop-{tag}", f"10.250.{third}.1", f"10.250.{third}.2")
        outside, inside = f"gdh{tag}", f"gdn{tag}"
        for argv in (["ip", "netns", "add", ns.name],
                     ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
                     ["ip", "link", "set", inside, "netns", ns.name],
                     ["ip", "addr", "add", f"{ns.host}/30", "dev", outside],
                     ["ip", "link", "set", outside, "up"],
                     ns.run(["ip", "addr", "add", f"{ns.inside}/30", "dev", inside]),
                     ns.run(["ip", "link", "set", inside, "up"]),
                     ns.run(["ip", "link", "set", "lo", "up"])):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                ns.remove()
                pytest.skip(f"cannot make a network namespace here: {' '.join(argv)}: {done.stderr.strip()}")
        return ns

    def remove(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def make_tls(folder: Path, address: str) -> dict[str, Path]:
    """A CA of the test's own, and a server certificate it signed for ``SERVER_NAME`` and ``address``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {k: folder / f"{k}" for k in ("ca.crt", "ca.key", "server.crt", "server.key", "server.csr", "san")}
    files["san"].write_text(f"subjectAltName=DNS:{SERVER_NAME},IP:{address}\n")
    for argv in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=the shop's test CA",
                  "-keyout", files["ca.key"], "-out", files["ca.crt"]],
                 ["req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={SERVER_NAME}",
                  "-keyout", files["server.key"], "-out", files["server.csr"]],
                 ["x509", "-req", "-in", files["server.csr"], "-CA", files["ca.crt"], "-CAkey", files["ca.key"],
                  "-CAcreateserial", "-days", "2", "-extfile", files["san"], "-out", files["server.crt"]]):
        subprocess.run(["openssl", *map(str, argv)], check=True, capture_output=True, timeout=60)
    return {"ca": files["ca.crt"], "cert": files["server.crt"], "key": files["server.key"]}


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
    netns: Netns | None = None
    """Where the stack runs when it is not on loopback."""
    tls: dict[str, Path] | None = None
    """The CA and server certificate Prometheus and Alertmanager serve, when they are behind TLS."""
    password: Path | None = None
    """The basic auth password they ask for (user ``USER``), when they are behind TLS."""
    jobs: dict[str, str] | None = None
    """Scrape jobs (name -> host:port) of services the test runs itself (containers), in place of nginx and its
    exporter; the stack is ready when each is up."""
    extra_rules: str = ""
    """More rules for the shop's group."""
    procs: list[subprocess.Popen] = field(default_factory=list)
    pager: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        """Where the stack's services listen."""
        return self.netns.inside if self.netns else "127.0.0.1"

    @property
    def gw(self) -> str:
        """Where the pager and gameday's receiver listen: this host, as the stack reaches it."""
        return self.netns.host if self.netns else "127.0.0.1"

    def _in_stack(self, argv: list[str]) -> list[str]:
        return self.netns.run(argv) if self.netns else argv

    @property
    def nginx_start(self) -> list[str]:
        return self._in_stack([NGINX, "-c", str(self.folder / "nginx.conf"), "-p", str(self.folder)])

    def url(self, part: str) -> str:
        scheme = "https" if self.tls and part in ("prom", "am") else "http"
        return f"{scheme}://{self.host}:{self.ports[part]}"

    def session(self) -> requests.Session:
        """How the tests themselves reach Prometheus and Alertmanager."""
        s = requests.Session()
        s.trust_env = False
        if self.tls and self.password:
            s.verify, s.auth = str(self.tls["ca"]), (USER, self.password.read_text().strip())
        return s

    def start(self, page_to: str = "oncall") -> TeamStack:
        f = self.folder
        for sub in ("tmp", "tsdb", "am"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        (f / "nginx.conf").write_text(NGINX_CONF.format(folder=f, host=self.host, **self.ports))
        (f / "rules.yml").write_text(RULES.replace("{shop_down}", self.shop_down) + self.extra_rules)
        jobs = self.jobs or {"shop": f"{self.host}:{self.ports['exporter']}"}
        scrapes = "".join(SCRAPE.format(job=job, target=target) for job, target in jobs.items())
        am_client, web = "", []
        if self.tls and self.password:
            import bcrypt

            am_client = AM_CLIENT.format(ca=self.tls["ca"], server_name=SERVER_NAME, user=USER, password=self.password)
            hashed = bcrypt.hashpw(self.password.read_text().strip().encode(), bcrypt.gensalt(rounds=4)).decode()
            (f / "web.yml").write_text(WEB_CONFIG.format(user=USER, hashed=hashed, **self.tls))
            web = [f"--web.config.file={f / 'web.yml'}"]
        (f / "prometheus.yml").write_text(PROMETHEUS.format(rules=f / "rules.yml", host=self.host, scrapes=scrapes,
                                                            am_client=am_client, **self.ports))
        hooks = {f"gameday_{r}": GAMEDAY_WEBHOOK.format(receiver=r, secret=self.secret, gameday=self.ports["gameday"],
                                                        gw=self.gw)
                 if self.with_gameday else "" for r in ("oncall", "tickets")}
        (f / "alertmanager.yml").write_text(ALERTMANAGER.format(secret=self.secret, page_to=page_to, gw=self.gw,
                                                                **hooks, **self.ports))
        _Sink.got = []
        self.pager = ThreadingHTTPServer((self.gw, self.ports["pager"]), _Sink)
        threading.Thread(target=self.pager.serve_forever, daemon=True).start()
        if self.jobs is None:
            subprocess.run(self.nginx_start, check=True, timeout=30)
        logs = f / "logs"
        logs.mkdir(exist_ok=True)
        exporter = [] if self.jobs else [("exporter", [EXPORTER, f"--nginx.scrape-uri={self.url('status')}/stub_status",
                                                       f"--web.listen-address={self.host}:{self.ports['exporter']}"])]
        for name, argv in (
            *exporter,
            ("alertmanager", [shutil.which("prometheus-alertmanager") or "alertmanager",
                              f"--config.file={f / 'alertmanager.yml'}", f"--storage.path={f / 'am'}",
                              f"--web.listen-address={self.host}:{self.ports['am']}", "--cluster.listen-address=",
                              *web]),
            ("prometheus", ["prometheus", f"--config.file={f / 'prometheus.yml'}", f"--storage.tsdb.path={f / 'tsdb'}",
                            f"--web.listen-address={self.host}:{self.ports['prom']}", *web])):
            out = (logs / f"{name}.log").open("w")
            self.procs.append(subprocess.Popen(self._in_stack(argv), stdout=out, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        http = self.session()
        query = "up == 1" if self.jobs else "nginx_up == 1"  # nginx itself, as its exporter sees it
        while time.monotonic() < deadline:
            try:
                up = http.get(f"{self.url('prom')}/api/v1/query", params={"query": query}, timeout=2).json()
                ready = http.get(f"{self.url('am')}/-/ready", timeout=2).status_code == 200
                if ready and {r["metric"]["job"] for r in up["data"]["result"]} >= set(jobs):
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
        if self.netns is not None:
            self.netns.remove()

    def pages(self) -> list[dict]:
        """What the team's real pager received."""
        return list(_Sink.got)


def needs_nginx() -> None:
    missing = [b for b in (NGINX, EXPORTER) if not Path(b).exists()]
    if missing:
        pytest.skip(f"the team-stack tests need Debian's nginx-light and prometheus-nginx-exporter: {missing} "
                    "missing (./run tests installs them)")


def team_stack(folder: Path, page_to: str = "oncall", shop_down: str | None = None,
               with_gameday: bool = True, secured: bool = False, jobs: dict[str, str] | None = None,
               extra_rules: str = "") -> TeamStack:
    if jobs is None:
        needs_nginx()
    secret = folder / "gameday-webhook-secret"
    folder.mkdir(parents=True, exist_ok=True)
    secret.write_text("a-secret-the-team-shares-with-gameday-" + os.urandom(8).hex() + "\n")
    secret.chmod(0o600)
    ports = {k: free_port() for k in ("web", "status", "exporter", "prom", "am", "pager", "gameday")}
    stack = TeamStack(folder, ports, secret, with_gameday=with_gameday, jobs=jobs, extra_rules=extra_rules)
    if shop_down is not None:
        stack.shop_down = shop_down
    if secured:
        stack.netns = Netns.make()
        stack.tls = make_tls(folder / "tls", stack.netns.inside)
        stack.password = folder / "monitoring-password"
        stack.password.write_text(os.urandom(12).hex() + "\n")
        stack.password.chmod(0o600)
    try:
        return stack.start(page_to)
    except BaseException:
        stack.stop()
        raise
