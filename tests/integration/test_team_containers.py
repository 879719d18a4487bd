"""A team's services as containers on the local Docker engine, drilled through its target file: a Compose project
the test brings up itself (gameday neither starts nor builds it), watched by a Prometheus and an Alertmanager on
this host that gameday did not start either. Each service is named as a team would name it: a service of a Compose
project, a container by label, a container by name. Skipped, with the reason, only where no Docker engine runs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from gameday.compose.engine import compose_binary, engine
from gameday.compose.stack import ComposeConfig, ComposeStack
from gameday.core.errors import HarnessError
from gameday.team.model import TargetFile
from gameday.team.target import TeamTarget
from tests.conftest import ROOT
from tests.integration.teamproject import (
    LOCUSTFILE,
    drill,
    monitoring,
    reverted_by_watchdog,
    team_project,
    until_detect,
)
from tests.integration.teamstack import TeamStack, free_port, team_stack
from tests.integration.test_compose import docker_or_skip

PROJECT = """name: {project}
x-service: &service
  image: gameday-stack:{tag}
  pull_policy: never
  init: true
  entrypoint: []
  command: [python3, model_backend.py, --host, 0.0.0.0, --port, "8001"]
services:
  shop:
    <<: *service
    ports: ["127.0.0.1:{shop}:8001"]
  cart:
    <<: *service
    container_name: {project}-the-cart
    labels: {{io.gameday.test.role: "cart-{project}"}}
    ports: ["127.0.0.1:{cart}:8001"]
"""

DOWN_RULES = """      - alert: CartDown
        expr: up{job="cart"} == 0
        for: 2s
        labels: {severity: page}
        annotations: {summary: the cart does not answer its scrape, runbook_url: runbooks/shop-down.md}
"""

SCENARIO = """id: {service}-down
title: The {service} service stops answering
priority: p0
runbook: runbooks/shop-down.md
load:
  locustfile: locustfiles/health.py
  users: 1
  spawn_rate: 1
steady_state: 5s
fault:
  kind: {kind}
  target: {service}
expect:
  - alert: {alert}
    receiver: oncall
    within: 30s
quiet: [ShopSlow]
recovery:
  mode: revert
  mttr_goal: 1m
"""

HEALTH = LOCUSTFILE.replace('get("/")', 'get("/health")')


class Containers:
    """The team's Compose project: up at the start, down at the end."""

    def __init__(self, folder: Path, tag: str) -> None:
        self.project = f"gdteam-{os.getpid()}-{os.urandom(2).hex()}"
        self.ports = {"shop": free_port(), "cart": free_port()}
        self.file = folder / "compose.yaml"
        folder.mkdir(parents=True, exist_ok=True)
        self.file.write_text(PROJECT.format(project=self.project, tag=tag, **self.ports))

    def compose(self, *args: str) -> None:
        done = subprocess.run([*compose_binary(), "-p", self.project, "-f", str(self.file), *args],
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr

    def state(self, service: str) -> dict:
        (c,) = engine().containers.list(all=True, filters={"label": [f"com.docker.compose.project={self.project}",
                                                                      f"com.docker.compose.service={service}"]})
        return c.attrs["State"] | {"Id": c.id, "Networks": sorted(c.attrs["NetworkSettings"]["Networks"] or {})}


@pytest.fixture(scope="module")
def containers(tmp_path_factory):
    docker_or_skip()
    work = tmp_path_factory.mktemp("team-containers")
    image = ComposeStack(ComposeConfig(ROOT, work / "image", project=f"gameday-image-{os.getpid()}"))
    image.ensure_image()
    team = Containers(work / "compose", image.image_tag())
    try:
        team.compose("up", "-d")
        stack = team_stack(work / "monitoring", extra_rules=DOWN_RULES, shop_down='up{job="shop"} == 0',
                           jobs={name: f"127.0.0.1:{port}" for name, port in team.ports.items()})
        try:
            yield team, stack
        finally:
            stack.stop()
    finally:
        team.compose("down", "-t", "1", "--remove-orphans")


def target_file(team: Containers, stack: TeamStack, cart: str = "label", faultable: str = "[shop, cart]") -> str:
    cart_platform = ({"docker": {"label": f"io.gameday.test.role=cart-{team.project}"}} if cart == "label" else
                     {"docker": {"container": f"{team.project}-the-cart"}} if cart == "name" else json.loads(cart))
    return f"""monitoring:
{monitoring(stack)}receiver:
  listen: 127.0.0.1:{stack.ports['gameday']}
  secret: {{file: {stack.secret}}}
services:
  - name: shop
    url: http://127.0.0.1:{team.ports['shop']}
    probe: {{http: {{path: /health}}}}
    platform: {{compose: {{project: {team.project}, service: shop}}}}
  - name: cart
    url: http://127.0.0.1:{team.ports['cart']}
    probe: {{http: {{path: /health}}}}
    platform: {json.dumps(cart_platform)}
safety:
  allow: [127.0.0.0/8]
  faultable: {faultable}
"""


def project_for(tmp_path: Path, team: Containers, stack: TeamStack, kind: str, service: str, **over: str) -> Path:
    project = team_project(tmp_path, stack)
    (project / "scenarios" / "shop-down.yaml").unlink()
    (project / "scenarios" / f"{service}-down.yaml").write_text(SCENARIO.format(
        kind=kind, service=service, alert="ShopDown" if service == "shop" else "CartDown"))
    (project / "locustfiles" / "health.py").write_text(HEALTH)
    (project / "targets" / "shop.yaml").write_text(target_file(team, stack, **over))
    return project


@pytest.mark.parametrize(("kind", "service", "cart"), [
    ("stop-service", "shop", "label"),       # a service of a Compose project that is up
    ("kill-service", "shop", "label"),       # no restart policy: the revert starts it
    ("pause-service", "cart", "label"),      # a container by label
    ("network-disconnect", "cart", "name"),  # a container by name, off its only network
])
def test_a_fault_on_a_teams_container_pages_passes_and_puts_the_container_back(tmp_path, containers, kind, service,
                                                                                cart):
    team, stack = containers
    project = project_for(tmp_path, team, stack, kind, service, cart=cart)
    run = drill(project, "--junitxml", "junit.xml")
    assert run.proc.returncode == 0, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "PASS", journal["reasons"]
    alert = journal["alerts"]["ShopDown" if service == "shop" else "CartDown"]
    assert alert["receiver"] == "oncall" and alert["sla_met"] and journal["pages"]["level"] == "delivered"
    ledger = [json.loads(line) for line in (project / "reports" / "fault-ledger.jsonl").read_text().splitlines()]
    injected = next(e for e in ledger if e["state"] == "injecting")
    state = team.state(service)
    assert injected["revert"] == "compose-container" and injected["detail"]["container"] == state["Id"], injected
    assert ledger[-1]["state"] == "reverted", ledger[-1]
    assert state["Running"] and not state["Paused"], state
    assert len(state["Networks"]) == 1, state
    assert requests.get(f"http://127.0.0.1:{team.ports[service]}/health", timeout=5).status_code == 200, \
        "the container answers on its published port again"


def test_a_paused_container_is_unpaused_by_the_watchdog_when_the_harness_is_killed(tmp_path, containers):
    team, stack = containers
    project = project_for(tmp_path, team, stack, "pause-service", "cart")
    proc, seen = until_detect(project)
    try:
        assert team.state("cart")["Paused"], "".join(seen)
        proc.kill()  # SIGKILL: no revert from the harness
        proc.wait()
        reverted_by_watchdog(project)
        assert not team.state("cart")["Paused"] and team.state("cart")["Running"]
        assert requests.get(f"http://127.0.0.1:{team.ports['cart']}/health", timeout=5).status_code == 200
    finally:
        proc.kill()


def test_a_container_named_twice_or_the_monitorings_own_is_refused_in_one_line(tmp_path, containers):
    """A label both containers carry names two: the drill stops before any fault, naming the field. A container
    that publishes the port of the team's Prometheus is the monitoring, whatever ``safety.faultable`` says."""
    team, stack = containers
    both = json.dumps({"docker": {"label": f"com.docker.compose.project={team.project}"}})
    run = drill(project_for(tmp_path / "twice", team, stack, "pause-service", "cart", cart=both))
    assert run.proc.returncode != 0
    assert "targets/shop.yaml: services.cart.platform.docker: 2 containers are the container labelled " \
           f"com.docker.compose.project={team.project}" in run.out, run.out
    assert "Traceback" not in run.out
    assert team.state("cart")["Running"] and not team.state("cart")["Paused"]

    text = target_file(team, stack).replace(stack.url("prom"), f"http://127.0.0.1:{team.ports['cart']}")
    target = TeamTarget(TargetFile.model_validate(yaml.safe_load(text)), "targets/shop.yaml")
    with pytest.raises(HarnessError) as refused:
        target.refuse_monitoring("cart")
    assert str(refused.value) == (
        f"targets/shop.yaml: services.cart (the container labelled io.gameday.test.role=cart-{team.project}) "
        f"publishes port {team.ports['cart']}, where monitoring.prometheus.url is: gameday never faults the "
        "monitoring")
    target.refuse_monitoring("shop")  # the other container is not the monitoring


def test_a_kind_a_teams_container_cannot_take_is_one_line_in_preflight(tmp_path, containers):
    team, stack = containers
    project = project_for(tmp_path, team, stack, "cpu-stress", "shop")
    started = time.monotonic()
    run = drill(project)
    assert run.proc.returncode != 0
    assert "the shop target cannot do fault kind 'cpu-stress': stress on a team's container is not offered" \
        in run.out, run.out
    assert time.monotonic() - started < 60
