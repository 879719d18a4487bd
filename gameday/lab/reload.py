"""Fresh alerting in a running lab, without starting the lab again: what ``gameday mutate`` does before each drill,
so that every drill of every mutant begins as on a lab just started, while the gateway, the backend, the load and
Prometheus's scrape loops go on.

- The configs are rendered again, from another config folder where one is given (a mutant's), and the rule files
  get a name of their own each time (``inference-7.yml``): Prometheus keeps a rule group's alert state across a
  reload only for a group of the same file and name, so a renamed file holds none (no pending ``for``, no
  resolved alert it would resend for 15 minutes). Prometheus is told to reload (SIGHUP), and its own counter shows
  the reload succeeded.
- Every series Prometheus holds up to now is deleted through its admin API (the lab turns it on only for such a
  session, ``LabConfig.admin_api``): no rate window holds an earlier drill's errors.
- Alertmanager starts again with no data: no group, no silence, no notification log of an earlier drill.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import requests

from gameday.core.errors import HarnessError

RELOADED = "prometheus_config_last_reload_success_timestamp_seconds"
"""Prometheus's gauge of its last successful reload's time (whole seconds)."""
SUCCESSFUL = "prometheus_config_last_reload_successful"


def _gauge(prometheus: Any, name: str) -> float | None:
    try:
        return prometheus.metric(name)
    except HarnessError:  # StackUnreachable: not answering yet
        return None


def _rename_rules(rules: Path, generation: int) -> None:
    for path in sorted(rules.glob("*.yml")):
        path.rename(path.with_name(f"{path.stem}-{generation}.yml"))


def fresh_alerting(lab: Any, config_dir: Path | None = None, rules_dir: Path | None = None,
                   timeout: float = 30.0) -> float:
    """Give the lab fresh alerting (module docstring), with the config of ``config_dir`` and ``rules_dir`` where
    given; the seconds it took. ``HarnessError`` when a server does not take it (the lab's logs say why)."""
    if lab.attached or lab.endpoints is None or not lab.config.admin_api:
        raise HarnessError("fresh alerting needs a lab this process started with its admin API on")
    t0 = time.monotonic()
    logs = lab.config.workdir / "logs"
    prom = lab.prometheus
    before = _gauge(prom, RELOADED) or 0.0
    if config_dir is not None:
        lab.config.config_dir, lab.config.rules_dir = config_dir, rules_dir or config_dir / "prometheus" / "rules"
    rendered = lab.render({name: int(url.rsplit(":", 1)[1]) for name, url in lab.endpoints.as_dict().items()
                           if name in ("gateway", "backend", "prometheus", "alertmanager", "containers")})
    generation = int(time.monotonic() * 1000)  # a name no earlier reload of this lab gave its rule files
    _rename_rules(rendered["rules"], generation)
    lab.supervisor.stop("alertmanager")
    shutil.rmtree(lab.config.workdir / "am-data", ignore_errors=True)
    if math.floor(time.time()) <= before:  # whole seconds: a reload in the same second could not be told apart
        time.sleep(math.floor(time.time()) + 1.001 - time.time())
    pid = lab.supervisor.pid("prometheus")
    if pid is None:
        raise HarnessError("Prometheus is not running: the lab cannot load another config")
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while (_gauge(prom, RELOADED) or 0.0) <= before:
        if _gauge(prom, SUCCESSFUL) == 0.0:
            raise HarnessError(f"Prometheus refused the config of {lab.config.config_dir} (see {logs})")
        if time.monotonic() > deadline:
            raise HarnessError(f"Prometheus did not reload within {timeout:g}s (see {logs})")
        time.sleep(0.05)
    try:
        requests.post(f"{lab.endpoints.prometheus}/api/v1/admin/tsdb/delete_series", timeout=10,
                      params={"match[]": '{__name__=~".+"}', "end": f"{time.time():.3f}"}).raise_for_status()
    except requests.RequestException as exc:
        raise HarnessError(f"Prometheus did not delete its series: {exc}") from None
    lab.alerting_epoch = time.monotonic()
    lab.supervisor.start("alertmanager")
    lab.wait_ready(timeout)
    return time.monotonic() - t0
