"""``gameday target new NAME --prometheus URL --alertmanager URL``: a team's first target file and a catalog of
draft scenarios, read from what its live stack shows.

Prometheus's ``/api/v1/rules`` gives each alerting rule (its ``for``, labels and runbook link) and Alertmanager's
``/api/v2/status`` its live route tree, which says the receiver each alert reaches. Each rule becomes a draft
scenario that expects it at that receiver, with an SLA above the pipeline's floor on that stack. A draft cannot
name its fault (nothing on the stack says what breaks to fire the alert), so it carries ``draft: true``: its drill
is SKIPPED, saying so, and ``gameday check`` counts it as a problem, not as drilled, until a person names the fault
and deletes the line.

Nothing is sent anywhere but the two URLs, and those only inside ``--allow`` (loopback when it is not given).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from gameday.core.errors import GamedayError
from gameday.observe.clients import Alertmanager, Prometheus, Rule
from gameday.pipeline.routing import route_for
from gameday.scenario.files import validated
from gameday.scenario.model import PRIORITIES
from gameday.target.allowlist import Reach
from gameday.team.http import session_for
from gameday.team.model import Endpoint

LOAD = "locustfiles/get.py"
PLACEHOLDER = "app"
"""The service a new target file names until the team names its own."""

TARGET = """# targets/{name}.yaml: written by `gameday target new` from {prometheus} and {alertmanager}.
# The reference is docs/guides/own-stack.md. What is left for you:
#   - services: name your services (the load, the probe, and the platform faults reach them through);
#   - receiver: uncomment it, and add gameday's webhook to your Alertmanager's receivers, for pages proved
#     delivered (without it they are proved attempted at most);
#   - safety.faultable: the services a drill may fault.
monitoring:
{monitoring}# receiver:
#   listen: 127.0.0.1:9095           # an address of this machine your Alertmanager reaches
#   secret: {{file: /etc/gameday/webhook-secret}}
services:
  - name: {placeholder}                        # a placeholder: probed by a PromQL expression that always has data
    probe: {{promql: up}}
    # url: http://127.0.0.1:8080      # where load and an http probe go
    # probe: {{http: {{path: /healthz}}}}
    # platform: {{process: {{pidfile: /run/app.pid, start: [/usr/bin/app]}}}}
safety:
  allow: [{allow}]
  faultable: []
"""

SCENARIO = """# A draft, written by `gameday target new` from the alerting rule {alert} ({where}).
# It is drilled only once a person names the fault that makes {alert} fire and deletes `draft: true`.
draft: true
id: {id}
title: "{title}"
priority: {priority}
runbook: {runbook}
load: {{locustfile: {locustfile}, users: 2, spawn_rate: 2}}   # draft: aimed at the target file's sli service
steady_state: 30s
fault:
  kind: stop-service            # draft: which fault fires {alert}? (docs/reference/fault-kinds.md)
  target: {placeholder}
expect:
  - alert: {alert}
    receiver: {receiver}        # where the live route tree sends its labels
    within: {within}            # above the floor on this stack: for {for_s:g}s, group_wait {group_wait:g}s, \
scrape {scrape:g}s, evaluation {interval:g}s
recovery:
  mode: revert
  mttr_goal: 10m
"""

LOCUSTFILE = """# Written by `gameday target new`: the drill's load, a GET of / on the target file's sli service, five
# times a second per user. Make it what your users do.
from locust import HttpUser, constant, task


class User(HttpUser):
    wait_time = constant(0.2)

    @task
    def front_page(self):
        self.client.get("/")
"""

DRILLS = """# Written by `gameday target new`: every scenario in scenarios/ as a drill (pytest gamedays/ --target NAME).


def test_drill(scenario, run_drill):
    record = run_drill(scenario)
    assert record.verdict == "PASS"
"""

PYTEST_INI = """# Written by `gameday target new`: it makes this folder pytest's rootdir, where gameday finds targets/,
# scenarios/, runbooks/ and locustfiles/.
[pytest]
addopts = -p no:cacheprovider
"""

SLO_FILE = """# Written by `gameday target new`. Before each drill the error-budget gate reads what is left of each
# SLO's error budget from your Prometheus and applies the error budget policy: a budget above 30% drills; one
# below it, or one that cannot be read (no SLO here), is SKIPPED; `--error-budget-override REASON` drills anyway,
# on the record.
# errors and total are PromQL instant queries returning one series each; $window stands for the window.
slos: []
#  - name: shop-availability
#    objective: 99.5          # percent of requests answered without a server error
#    window: 30d
#    errors: sum(increase(http_requests_total{job="shop", code=~"5.."}[$window])) or vector(0)
#    total: sum(increase(http_requests_total{job="shop"}[$window]))
"""

RUNBOOK = """# {alert}

A draft runbook, written by `gameday target new`{linked}. Fill in each section.

## Triage

## Investigation

## Mitigation

## Resolution

## Prevention
"""


def slug(name: str) -> str:
    """``ShopDown`` -> ``shop-down``: a scenario id from an alert's name."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return re.sub(r"-+", "-", spaced)[:64] or "alert"


def sla_for(rule: Rule, group_wait: float, scrape: float) -> str:
    """An SLA above the floor a page cannot beat on this stack (two scrapes, one evaluation, the rule's ``for``,
    the route's group_wait), with a minute to spare, in whole minutes."""
    floor = 2 * scrape + rule.group_interval_s + rule.for_s + group_wait
    return f"{max(2, math.ceil((floor + 60) / 60))}m"


def access_of(args: Any) -> dict[str, Any]:
    """The target file's ``auth`` and ``tls`` for both servers, from ``gameday target new``'s options."""
    access: dict[str, Any] = {}
    secret = ({"file": args.password_file} if args.password_file else {"env": args.password_env}
              if args.password_env else None)
    if args.username:
        if secret is None:
            raise GamedayError("--username needs --password-file or --password-env")
        access["auth"] = {"basic": {"username": args.username, "password": secret}}
    elif secret is not None:
        raise GamedayError("--password-file and --password-env need --username")
    elif args.bearer_file or args.bearer_env:
        access["auth"] = {"bearer": {"file": args.bearer_file} if args.bearer_file else {"env": args.bearer_env}}
    tls = {k: v for k, v in (("ca_file", args.ca_file), ("server_name", args.server_name)) if v}
    if tls:
        access["tls"] = tls
    return access


def _hint(said: str) -> str:
    """Which of ``gameday target new``'s options a refusal calls for."""
    if "HTTP 401" in said or "HTTP 403" in said:
        return (": give the credentials it asks for (--username with --password-file or --password-env, or "
                "--bearer-file or --bearer-env)")
    if "TLS:" in said:
        return ": give the CA that signed its certificate (--ca-file), and --server-name where the URL is an address"
    return ""


def _endpoint(url: str, access: dict[str, Any], field: str) -> tuple[Endpoint, str]:
    """The endpoint as the target file will hold it (checked by the same model), and its lines in the file."""
    raw = {"url": url, **access}
    endpoint = validated(raw, Endpoint, f"gameday target new: {field}")
    def flow(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=200).strip()

    lines = f"    url: {url}\n" + "".join(f"    {k}: {flow(v)}\n" for k, v in access.items())
    return endpoint, f"  {field.rsplit('.', 1)[1]}:\n{lines}"


def draft_target(name: str, prometheus_url: str, alertmanager_url: str, root: Path, allow: list[str],
                 force: bool = False, access: dict[str, Any] | None = None) -> list[str]:
    """Write ``targets/NAME.yaml`` and a draft scenario (and runbook, where none is) per alerting rule; lines
    saying what was written. ``access``: the ``auth`` and ``tls`` both servers take, as the target file holds
    them. ``GamedayError`` (one line) when the stack cannot be read or a file is in the way."""
    reach = Reach.of(allow, "--allow")
    for url in (prometheus_url, alertmanager_url):
        reach.check(url)
    shown = f"targets/{name}.yaml"
    prom_ep, prom_lines = _endpoint(prometheus_url, access or {}, "monitoring.prometheus")
    am_ep, am_lines = _endpoint(alertmanager_url, access or {}, "monitoring.alertmanager")
    prometheus = Prometheus(prometheus_url, 10.0, session_for(prom_ep, shown, "monitoring.prometheus"))
    alertmanager = Alertmanager(alertmanager_url, 10.0, session_for(am_ep, shown, "monitoring.alertmanager"))
    try:
        rules = prometheus.alerting_rules()
        scrape = prometheus.scrape_interval()
        config = alertmanager.config()
    except GamedayError as exc:
        raise GamedayError(f"{exc}{_hint(str(exc))}") from None
    target = root / "targets" / f"{name}.yaml"
    if target.exists() and not force:
        raise GamedayError(f"gameday target new: {target} exists: give --force to write over it")
    target.parent.mkdir(parents=True, exist_ok=True)
    hint = "" if access else ("    # auth: {basic: {username: gameday, password: {file: /etc/gameday/password}}}\n"
                              "    # tls: {ca_file: /etc/gameday/ca.pem}\n")
    target.write_text(TARGET.format(name=name, prometheus=prometheus_url, alertmanager=alertmanager_url,
                                    monitoring=prom_lines + hint + am_lines, placeholder=PLACEHOLDER,
                                    allow=", ".join(json.dumps(a) for a in allow)))
    lines = [f"wrote {target.relative_to(root)}: {len(rules)} alerting rules on {prometheus_url}, "
             f"{len(config.get('receivers') or [])} receivers on {alertmanager_url}"]
    files = [(LOAD, LOCUSTFILE), ("gamedays/test_scenarios.py", DRILLS), ("config/slo.yaml", SLO_FILE)]
    if not any((root / f).exists() for f in ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")):
        files.append(("pytest.ini", PYTEST_INI))  # pytest's rootdir is then the project, where targets/ is
    for rel, text in files:
        if not (root / rel).exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
            lines.append(f"wrote {rel}")
    for rule in rules.values():
        lines.append(_draft_scenario(rule, route_for(config, {"alertname": rule.name, **rule.labels}), scrape,
                                     root, force))
    lines.append(f"next: name your services in {target.relative_to(root)}, then each draft's fault "
                 "(docs/guides/own-stack.md); a draft's drill is SKIPPED until then")
    return lines


def _draft_scenario(rule: Rule, route: Any, scrape: float, root: Path, force: bool) -> str:
    sid = slug(rule.name)
    path = root / "scenarios" / f"{sid}.yaml"
    if path.exists() and not force:
        return f"kept {path.relative_to(root)}: it exists (--force writes over it)"
    link = rule.annotations.get("runbook_url", "")
    runbook = link if link.startswith("runbooks/") and (root / link).is_file() else f"runbooks/{sid}.md"
    if not (root / runbook).is_file():
        (root / "runbooks").mkdir(parents=True, exist_ok=True)
        (root / runbook).write_text(RUNBOOK.format(alert=rule.name, linked=f" (the rule links {link})" if link
                                                   else ""))
    priority = rule.labels.get("priority", "p2")
    path.parent.mkdir(parents=True, exist_ok=True)
    receiver = route.receivers[0] if route.receivers else "CHANGE-ME"
    title = (rule.annotations.get("summary") or rule.name).replace('"', "'")[:200]
    path.write_text(SCENARIO.format(
        alert=rule.name, where=f"rule {rule.name}: {' '.join(rule.query.split())[:120]}", id=sid, title=title,
        priority=priority if priority in PRIORITIES else "p2", runbook=runbook, placeholder=PLACEHOLDER,
        receiver=receiver, locustfile=LOAD, within=sla_for(rule, route.group_wait, scrape), for_s=rule.for_s,
        group_wait=route.group_wait, scrape=scrape, interval=rule.group_interval_s))
    return f"wrote {path.relative_to(root)}: a draft expecting {rule.name} at {receiver}"
