"""The shadow pair: a team's stack drilled by ``gameday mutate --target NAME`` without touching its monitoring.

``gameday mutate`` must run each mutant of a team's rules and routes, and nothing may be written to the team's
Prometheus or Alertmanager. So the command reads the team's alerting from their APIs once
(``gameday.team.mirrorconfig``), and every drill runs on a Prometheus and an Alertmanager that gameday starts on
loopback (the pair): the team's rules (or a mutant of them), scraping the team's own exporters inside
``safety.allow``, and the team's route tree, every receiver replaced by gameday's webhook. The faults, the load
and the probes go to the team's services as in any drill of the target file (``gameday.team.target``); the
team's own alerts fire for them as they would in a drill, and its pager gets what it would get then.

Before each drill the pair is started again with no data (``fresh_alerting``): the mutant's copy of the config,
no series, no alert state. A drill's steady state that finds the pair's alert firing while the team's live
Prometheus, with the rules as they are, holds no such alert (``quiet_where_live``) is the mutant's doing: a
rule that fires for a healthy service.

The pair runs in real time (the team's exporters are scraped at their own intervals): another time scale is
refused. A session drills on it when ``--mirror-config`` names the folder it runs (``gameday.team.plugin``):
the mutation sessions only.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from gameday.core.errors import ConfigError, HarnessError, StackUnreachable
from gameday.core.processes import die_with_parent
from gameday.mutate.workers import Stack
from gameday.observe.clients import Alertmanager, Prometheus
from gameday.observe.receiver import WebhookReceiver
from gameday.target.monitoring import render_monitoring
from gameday.target.ports import free_port
from gameday.team.mirrorconfig import read_alerting
from gameday.team.probes import probe_addresses
from gameday.team.target import TeamTarget

PAIR_HOW = ("gameday's shadow pair: a Prometheus and an Alertmanager it started on loopback with the team's rules "
            "and routes (read from the team's servers), its receivers replaced by gameday's webhook, with the run's "
            "secret; the team's own monitoring is not drilled")


class MirrorTarget(TeamTarget):
    """The team's services (its target file's), with the shadow pair as their monitoring."""

    owns_monitoring = True
    """The pair is the harness's: restarted with no state where a drill needs it (``reset_alerting``)."""

    def __init__(self, spec: Any, shown: str, config_dir: Path, workdir: Path, time_scale: float = 1.0,
                 runbooks: Path | None = None) -> None:
        super().__init__(spec, shown)
        if time_scale != 1:
            raise ConfigError(shown, "--time-scale", f"{time_scale:g}: the shadow pair scrapes the team's own "
                                                     "services, which run in real time; use 1")
        self.live_prometheus, self.live_alertmanager = self.prometheus, self.alertmanager
        self.config_dir, self.workdir = config_dir, workdir
        self.runbooks = str(runbooks or Path("runbooks"))
        self.ports = {"prometheus": free_port(), "alertmanager": free_port()}
        self.prometheus = Prometheus(f"http://127.0.0.1:{self.ports['prometheus']}")
        self.alertmanager = Alertmanager(f"http://127.0.0.1:{self.ports['alertmanager']}")
        self.level = "delivered"
        self.pages = {"level": "delivered", "how": PAIR_HOW}
        self.warnings = [*self.warnings, f"{shown}: drilled on gameday's shadow pair (a Prometheus and an "
                                         "Alertmanager of its own with the team's alerting), not on the team's "
                                         "monitoring: a mutation run's drill, not a game day's"]
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- the pair ----------------------------------------------------------------------------------
    def _start_pair(self, timeout: float = 30.0) -> None:
        from gameday.lab.host import find_binary

        assert isinstance(self.webhook, WebhookReceiver)
        rendered = render_monitoring(self.config_dir, self.config_dir / "prometheus" / "rules",
                                     self.workdir / "rendered", 1.0,
                                     {"alertmanager": f"127.0.0.1:{self.ports['alertmanager']}"}, self.webhook.url,
                                     self.runbooks, webhook_secret=self.webhook.secret)
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name, argv in (
                ("alertmanager", [find_binary("prometheus-alertmanager", "alertmanager"),
                                  f"--config.file={rendered['alertmanager']}",
                                  f"--storage.path={self.workdir / 'am-data'}",
                                  f"--web.listen-address=127.0.0.1:{self.ports['alertmanager']}",
                                  "--cluster.listen-address=", "--log.level=warn"]),
                ("prometheus", [find_binary("prometheus"), f"--config.file={rendered['prometheus']}",
                                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}", "--log.level=warn"])):
            with (logs / f"{name}.log").open("ab") as log:
                self._procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while not (self.prometheus.ready() and self.alertmanager.ready()):
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise HarnessError(f"the shadow pair's {name} exited ({proc.returncode}): see {logs}")
            if time.monotonic() > deadline:
                raise StackUnreachable(f"the shadow pair did not answer within {timeout:g}s: see {logs}")
            time.sleep(0.1)

    def _stop_pair(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs = {}

    def fresh_alerting(self, config_dir: Path | None = None) -> float:
        """The pair started again with no data, on ``config_dir`` where given (a mutant's copy); the seconds."""
        t0 = time.monotonic()
        self._stop_pair()
        for data in ("tsdb", "am-data"):
            shutil.rmtree(self.workdir / data, ignore_errors=True)
        if config_dir is not None:
            self.config_dir = config_dir
        self.alerting_epoch = time.monotonic()
        self._start_pair()
        return time.monotonic() - t0

    def reset_alerting(self) -> float:
        self.fresh_alerting()
        return self.alerting_epoch

    def quiet_where_live(self, alerts: list[str]) -> bool:
        """True when the team's live Prometheus, with its rules as they are, holds none of ``alerts`` pending or
        firing: the same series, judged by the rule as it is, are healthy."""
        try:
            live = {a.name for a in self.live_prometheus.alerts()}
        except StackUnreachable:
            return False
        return not live & set(alerts)

    # -- the target ----------------------------------------------------------------------------------
    def allowlist(self) -> list[str]:
        """The services' addresses: the pair is the harness's own, on loopback."""
        return [url for s in self._services.values() for url in probe_addresses(s)]

    def runbook_env(self) -> dict[str, str]:
        return {**super().runbook_env(), "PROMETHEUS": self.prometheus.base_url,
                "ALERTMANAGER": self.alertmanager.base_url}

    def start(self, ready_timeout: float = 30.0) -> None:
        t0 = time.monotonic()
        for url in self.allowlist():
            self.reach.check(url)
        self.workloads.start()
        for service in self.spec.safety.faultable:
            self.refuse_monitoring(service)
        self.webhook = WebhookReceiver("127.0.0.1", 0, named_by_payload=True).start()
        for data in ("tsdb", "am-data"):
            shutil.rmtree(self.workdir / data, ignore_errors=True)
        self.alerting_epoch = time.monotonic()
        self._start_pair(ready_timeout)
        deadline = time.monotonic() + ready_timeout
        while missing := [s for s in self._services if not self.service_healthy(s)]:
            if time.monotonic() > deadline:
                raise StackUnreachable(f"the {self.name} target ({self.shown}): service(s) {', '.join(missing)} did "
                                       f"not answer within {ready_timeout:g}s")
            time.sleep(0.5)
        self.clock_skew = {}
        self.started_in = time.monotonic() - t0

    def stop(self) -> None:
        self._stop_pair()
        super().stop()


def mutation_stack(root: Path, name: str, target: TeamTarget, work: Path) -> Stack:
    """The team's alerting read into ``work/team-config`` and the sessions' arguments for the pair."""
    dest = work / "team-config"
    shutil.rmtree(dest, ignore_errors=True)
    said = read_alerting(target.prometheus, target.alertmanager, target.reach, dest, target.shown)
    return Stack(dest, lambda first: ["--target", name, "--mirror-config", str(first)],
                 time_scale=1.0, workers=1, said=said, name=name)
