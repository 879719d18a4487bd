"""A team's own project, as the own-stack tests write it: gameday's drill module, a scenario, a runbook, a
locustfile and a target file for a stack of ``teamstack.py``; and how a drill of it is run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.conftest import GamedayRun, gameday_env, read_until
from tests.integration.teamstack import TeamStack

SCENARIO = """id: shop-down
title: The shop's web server stops
priority: p0
runbook: runbooks/shop-down.md
load:
  locustfile: locustfiles/get.py
  users: 2
  spawn_rate: 2
steady_state: 5s
fault:
  kind: {kind}
  target: web
expect:
  - alert: ShopDown
    receiver: oncall
    within: {within}
quiet: [ShopSlow]
recovery:
  mode: revert
  mttr_goal: 1m
"""

RUNBOOK = """# Shop down

## Symptoms
The shop's nginx does not answer.

## Diagnosis
Look at the nginx master process.

## Mitigation
Start nginx again.
"""

LOCUSTFILE = """from locust import HttpUser, constant, task


class Shopper(HttpUser):
    wait_time = constant(0.2)

    @task
    def front_page(self):
        self.client.get("/")
"""


PASSWORD_ENV = "SHOP_MONITORING_PASSWORD"
"""Where the target file of a stack behind basic auth says Prometheus's password is (Alertmanager's is in a file)."""


def monitoring(stack: TeamStack, ca: Path | None = None) -> str:
    """The target file's monitoring: plain on loopback; behind TLS, with the test's CA (or ``ca``) and basic auth,
    the password of one from the environment and of the other from a file."""
    if stack.tls is None:
        return f"""  prometheus:
    url: {stack.url('prom')}
  alertmanager:
    url: {stack.url('am')}
"""
    ca = ca or stack.tls["ca"]
    return f"""  prometheus:
    url: {stack.url('prom')}
    auth: {{basic: {{username: gameday, password: {{env: {PASSWORD_ENV}}}}}}}
    tls: {{ca_file: {ca}, server_name: monitoring.shop.test}}
  alertmanager:
    url: {stack.url('am')}
    auth: {{basic: {{username: gameday, password: {{file: {stack.password}}}}}}}
    tls: {{ca_file: {ca}}}
"""


def target_file(stack: TeamStack, **over: str) -> str:
    allow = over.get("allow", f"[{stack.netns.network}]" if stack.netns else "[127.0.0.0/8]")
    web = over.get("web", stack.url("web"))
    pages = f"pages: {over['pages']}\n" if over.get("pages") else ""
    receiver = "" if over.get("routed") else f"""receiver:
  listen: {stack.gw}:{stack.ports['gameday']}
  secret: {{file: {stack.secret}}}
"""
    return f"""monitoring:
{over.get("monitoring") or monitoring(stack)}{receiver}{pages}services:
  - name: web
    url: {web}
    probe: {{http: {{path: /}}}}
    platform:
      process:
        pidfile: {stack.folder / 'nginx.pid'}
        start: {json.dumps(stack.nginx_start)}
safety:
  allow: {allow}
  faultable: [web]
"""


def team_project(tmp_path: Path, stack: TeamStack, kind: str = "stop-service", within: str = "30s",
                 **over: str) -> Path:
    """The team's own project: gameday's drill module, its scenario, runbook, locustfile and target file."""
    project = tmp_path / "project"
    (project / "gamedays").mkdir(parents=True)
    shutil.copy(ROOT / "gamedays" / "test_scenarios.py", project / "gamedays")  # every scenario as a drill
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    for folder, name, text in (("scenarios", "shop-down.yaml", SCENARIO.format(kind=kind, within=within)),
                               ("runbooks", "shop-down.md", RUNBOOK), ("locustfiles", "get.py", LOCUSTFILE),
                               ("targets", "shop.yaml", target_file(stack, **over))):
        (project / folder).mkdir(parents=True, exist_ok=True)
        (project / folder / name).write_text(text)
    return project


def drill(project: Path, *args: str, timeout: float = 240, env: dict[str, str] | None = None) -> GamedayRun:
    proc = subprocess.run([sys.executable, "-m", "pytest", "gamedays", "--target", "shop", "--scenarios",
                           "scenarios", "--reports", "reports", "--alluredir", "allure", "-p", "no:cacheprovider",
                           # the stack has no users and no SLO of its own: the gate's override, recorded
                           "--error-budget-override", "a stack the test started, with no users", *args],
                          cwd=project, env={**gameday_env(), **(env or {})}, capture_output=True, text=True,
                          timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return GamedayRun(proc, project / "reports", project / "allure")


def until_detect(project: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """A drill of the team's project started with a 5 s watchdog, read until its detect phase begins (the fault is
    in): for a test that then kills the harness outright."""
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "gamedays", "--target", "shop", "--scenarios",
                             "scenarios", "--reports", "reports", "-p", "no:cacheprovider", "--watchdog", "5",
                             "--error-budget-override", "a stack the test started, with no users"],
                            cwd=project, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    return proc, read_until(proc)


def reverted_by_watchdog(project: Path, within: float = 20) -> dict:
    """The ledger's last entry once the watchdog has closed every one, checked to say the watchdog reverted it."""
    from gameday.faults import Ledger

    ledger = Ledger(project / "reports" / "fault-ledger.jsonl")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and ledger.pending():
        time.sleep(0.2)
    last = ledger.entries()[-1]
    assert last["state"] == "reverted" and "by the watchdog" in last["note"], last
    return last
