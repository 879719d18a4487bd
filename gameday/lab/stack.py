"""Start and stop the embedded lab: gateway, backend, Prometheus, Alertmanager, webhook receiver.

The model backend runs in a cgroup of its own with a CPU and a memory limit, as it would in a container,
where this machine allows it (root, cgroup v1); a small exporter (``gameday.lab.cgroups``) serves that
cgroup's counters as container metrics, and the lab's CPU and memory stress faults run inside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gameday.core.durations import format_ms, seconds
from gameday.core.errors import HarnessError
from gameday.core.processes import CleanOnFailure, start_guard, stop_guard
from gameday.lab.cgroups import Cgroup, CgroupUnavailable, lab_cgroup
from gameday.lab.faults import lab_fault_kinds
from gameday.lab.host import find_binary, reap_leftovers
from gameday.lab.supervisor import ControlServer, RemoteSupervisor, ServiceSpec, Supervisor
from gameday.observe.clients import Alertmanager, Prometheus, probe
from gameday.observe.receiver import Deliveries, RelayedReceiver, WebhookReceiver
from gameday.target.monitoring import load_stack_settings, render_monitoring
from gameday.target.ports import free_port
from gameday.target.protocol import FaultKinds, SliProbe
from gameday.target.readiness import wait_ready

GATEWAY, BACKEND = "inference-gateway", "model-backend"
LINK = "backend-link"
"""The relay between gateway and backend (``gameday.lab.link``): where the lab adds latency. Not a service a
fault may aim at: a latency fault names the backend, the dependency that turns slow."""
EXPORTER = "container-exporter"
"""Serves the backend's cgroup as container metrics (``gameday.lab.cgroups``); part of the monitoring, like
Prometheus."""
PLAIN_HTTP = {"SSL_CERT_FILE": "/dev/null"}
"""The gateway and backend speak plain HTTP on loopback: no CA bundle for aiohttp to load at import, which
is about 0.1 s of every start and restart of theirs."""
PROMETHEUS_BIN, ALERTMANAGER_BIN = "prometheus", "prometheus-alertmanager"


@dataclass
class LabConfig:
    """Where the lab's config lives and how fast it runs."""

    root: Path
    workdir: Path
    time_scale: float = 1.0
    rules_dir: Path | None = None
    config_dir: Path | None = None
    admin_api: bool = False
    """Prometheus's admin API on (``gameday.lab.reload`` deletes series through it): only for ``gameday mutate``."""

    def __post_init__(self) -> None:
        self.config_dir = self.config_dir or self.root / "config"
        self.rules_dir = self.rules_dir or self.config_dir / "prometheus" / "rules"


@dataclass
class Endpoints:
    gateway: str
    backend: str
    prometheus: str
    alertmanager: str
    webhook: str
    supervisor: str
    link: str
    """The control API of the relay in front of the backend (``GET /delay``)."""
    containers: str
    """The container-metrics exporter (``/metrics``)."""

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class Lab(CleanOnFailure):
    """The embedded lab, a target (``gameday.target.protocol.Target``); a context manager that cleans up even when
    its own start fails."""

    name = "lab"
    owns_monitoring = True
    created_by_run = True
    sli = SliProbe(GATEWAY, "POST", "/v1/predict", {"inputs": [0.1]})

    config: LabConfig
    supervisor: Supervisor = field(default_factory=Supervisor)
    webhook: WebhookReceiver | RelayedReceiver = field(default_factory=WebhookReceiver)
    endpoints: Endpoints | None = None
    control: ControlServer | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    started_in: float | None = None
    alerting_epoch: float = 0.0
    """``time.monotonic()`` when Prometheus and Alertmanager last started, holding no alert state."""
    faults: FaultKinds = field(default_factory=lab_fault_kinds)
    cgroup: Cgroup | None = None
    """The backend's cgroup, when this machine could make one."""
    cgroup_problem: str | None = "the lab has not started"
    """Why the backend has no cgroup of its own (then the lab cannot stress it): None when it has one."""
    warm: bool = False
    """Started by ``gameday lab up`` to outlive this process (it then never drills on another warm lab)."""
    control_posts: dict[str, Any] = field(default_factory=dict)
    """Extra ``POST /<name>`` actions on the control API (a warm lab's hold, release and restore)."""
    control_guarded: frozenset[str] = frozenset()
    """Those of ``control_posts`` that answer only a caller with the lab's secret (the receiver's)."""
    secret: str | None = None
    """A warm lab's secret, when this session attached to one: its receiver's and its guarded control calls'."""
    attached: bool = False
    """This session drills on a warm lab that another process runs (``gameday.lab.warm``)."""
    when_serving: Callable[[Lab], None] | None = None
    """Called once while the lab gets ready, as soon as its services answer
        (``gameday.target.readiness.wait_ready``)."""
    _guard: Any = None
    """``gameday.lab.guard``: sweeps the backend's cgroup should this process die without doing it."""

    # -- the target ------------------------------------------------------------------------------
    @property
    def receiver(self) -> Deliveries:
        return self.webhook

    def services(self) -> list[str]:
        return [GATEWAY, BACKEND]

    def url(self, service: str) -> str:
        assert self.endpoints is not None
        urls = {GATEWAY: self.endpoints.gateway, BACKEND: self.endpoints.backend}
        return urls[service]

    def runbook_env(self) -> dict[str, str]:
        """The addresses a runbook's commands use, as ``python -m gameday.lab env`` exports them."""
        assert self.endpoints is not None
        env = {name.upper(): url for name, url in self.endpoints.as_dict().items()}
        if self.cgroup is not None:
            env["BACKEND_CGROUP"] = str(self.cgroup.dir("cpu"))
        return env

    def is_running(self, service: str) -> bool:
        return self.supervisor.is_running(service)

    def trainee_actions(self, since: float) -> list[tuple[float, str]]:
        """What a person did to the lab since ``since`` (``time.monotonic()``) that the lab can see: calls to its
        supervisor's control API (a shadow exercise's timeline)."""
        calls = self.supervisor.calls() if self.attached else list(self.control.calls)  # type: ignore[union-attr]
        return [(t, f"called the supervisor: {call}") for t, call in calls if t >= since]

    def last_started(self, service: str) -> float | None:
        starts = [t for t, what, _ in self.supervisor.history(service) if what == "started"]
        return starts[-1] if starts else None

    def allowlist(self) -> list[str]:
        assert self.endpoints is not None
        return [self.endpoints.gateway, self.endpoints.backend, self.endpoints.prometheus,
                self.endpoints.alertmanager, self.endpoints.link]

    def sli_healthy(self) -> bool:
        return self.service_healthy(GATEWAY) and self.sli.check(self.url(GATEWAY))

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 60.0) -> None:
        t0 = time.monotonic()
        cfg = self.config
        cfg.workdir.mkdir(parents=True, exist_ok=True)
        if not self.warm:
            from gameday.lab.warmfile import find_warm

            warm = find_warm(cfg.workdir)
            if warm is not None:
                self._attach(warm, ready_timeout)
                self.started_in = time.monotonic() - t0
                return
        reap_leftovers(cfg.workdir)
        for stale in ("tsdb", "am-data"):  # every lab starts with empty history
            shutil.rmtree(cfg.workdir / stale, ignore_errors=True)
        self.settings = self._load_settings()
        prom_bin = find_binary(PROMETHEUS_BIN)
        am_bin = find_binary(ALERTMANAGER_BIN, "alertmanager")
        webhook = self.webhook.start().url
        self.control = ControlServer(self.supervisor, posts=self.control_posts, guarded=self.control_guarded,
                                     secret=self.webhook.secret).start()
        ports = {k: free_port() for k in ("gateway", "backend", "prometheus", "alertmanager", "link", "link_data",
                                          "containers")}
        self.endpoints = Endpoints(**{k: f"http://127.0.0.1:{p}" for k, p in ports.items() if k != "link_data"},
                                   webhook=webhook, supervisor=self.control.url)
        svc = self.settings["services"]
        self._make_cgroup(svc[BACKEND])
        rendered = self.render(ports)
        scale = cfg.time_scale
        logs = cfg.workdir / "logs"
        tag = ["--lab", str(cfg.workdir)]  # lets a leftover process be traced to its lab
        # Prometheus first: it hands targets and Alertmanagers to its loops 5 s after it starts, the lab's
        # longest wait, which the services' own start-up then overlaps
        resend = seconds(self.settings["prometheus"]["resend_delay"]) / scale
        self.supervisor.add(ServiceSpec("alertmanager", [
            am_bin, f"--config.file={rendered['alertmanager']}", f"--storage.path={cfg.workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
            "--log.level=warn"], logs / "alertmanager.log", 1.0))
        self.supervisor.add(ServiceSpec("prometheus", [
            prom_bin, f"--config.file={rendered['prometheus']}", f"--storage.tsdb.path={cfg.workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            f"--rules.alert.resend-delay={format_ms(max(1, round(resend * 1000)))}", "--log.level=warn",
            *self._web_config(), *(["--web.enable-admin-api"] if cfg.admin_api else [])],
            logs / "prometheus.log", 1.0))
        self.supervisor.add(ServiceSpec(
            BACKEND, [sys.executable, "-m", "gameday.lab.backend", "--port", str(ports["backend"]),
                      "--work-ms", str(svc[BACKEND].get("work_ms", 3)), "--slots", str(svc[BACKEND].get("slots", 3)),
                      "--accelerator-ms", str(svc[BACKEND].get("accelerator_ms", 30)), *tag],
            logs / f"{BACKEND}.log", seconds(svc[BACKEND]["restart_delay"]) / scale, env=PLAIN_HTTP,
            cgroup=self.cgroup))
        self.supervisor.add(ServiceSpec(
            EXPORTER, [sys.executable, "-m", "gameday.lab.cgroups", "--port", str(ports["containers"]),
                       "--map", str(cfg.workdir / "containers.json"), *tag],
            logs / f"{EXPORTER}.log", 1.0))
        self.supervisor.add(ServiceSpec(
            LINK, [sys.executable, "-m", "gameday.lab.link", "--port", str(ports["link_data"]),
                   "--upstream", f"127.0.0.1:{ports['backend']}", "--control", str(ports["link"]), *tag],
            logs / f"{LINK}.log", 1.0))
        self.supervisor.add(ServiceSpec(
            GATEWAY, [sys.executable, "-m", "gameday.lab.gateway", "--port", str(ports["gateway"]),
                      "--backend", f"http://127.0.0.1:{ports['link_data']}",
                      "--timeout", str(seconds(svc[GATEWAY]["backend_timeout"])), *tag],
            logs / f"{GATEWAY}.log", seconds(svc[GATEWAY]["restart_delay"]) / scale, env=PLAIN_HTTP))
        self.alerting_epoch = time.monotonic()
        self._write_pids()
        if self.cgroup is not None:  # should this process be killed outright, the cgroup goes all the same
            self._guard = start_guard("gameday.lab.guard", ["--workdir", str(cfg.workdir)], logs / "guard.log")
        self.wait_ready(ready_timeout)
        self.started_in = time.monotonic() - t0
        # what `python -m gameday.lab env` exports: the same environment a drilled runbook's commands get
        (cfg.workdir / "endpoints.json").write_text(json.dumps(self.runbook_env(), indent=2))

    def _attach(self, warm: dict[str, Any], ready_timeout: float) -> None:
        """Drill on the warm lab another process runs: hold it, follow its receiver, drive it remotely."""
        import requests

        from gameday.lab.warmfile import fingerprint, mismatch, post

        cfg = self.config
        self.attached, self.created_by_run = True, False  # from here, stop() leaves the warm lab's files and processes
        self.endpoints = Endpoints(**warm["endpoints"])
        problem = mismatch(warm, fingerprint(cfg), cfg.workdir)
        if problem:
            raise HarnessError(problem)
        self.settings = self._load_settings()
        self.secret = str(warm.get("secret") or "")
        status, body = post(self.endpoints.supervisor, "hold", secret=self.secret, pid=os.getpid())
        if status != 200:
            raise HarnessError(f"the warm lab in {cfg.workdir}: {body.get('error')}")
        self.supervisor = RemoteSupervisor(self.endpoints.supervisor)  # type: ignore[assignment]
        try:  # every page the lab's receiver has had, then each as it comes
            self.webhook = RelayedReceiver(self.endpoints.webhook, self.secret).start()
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise HarnessError(f"the warm lab's receiver at {self.endpoints.webhook} did not answer: "
                               f"{type(exc).__name__}: {exc}") from None
        self.cgroup_problem = warm.get("cgroup_problem")
        self.cgroup = lab_cgroup(cfg.workdir, BACKEND) if self.cgroup_problem is None else None
        self.faults = lab_fault_kinds(self.cgroup_problem, restore=f"{self.endpoints.supervisor}/restore")
        starts = [self.last_started(name) for name in ("prometheus", "alertmanager")]
        self.alerting_epoch = max(t for t in starts if t is not None) if all(starts) else time.monotonic()
        self.wait_ready(ready_timeout)

    def stop(self) -> None:
        if self.attached:  # the warm lab's processes stay up; this session lets go of it
            from gameday.lab.warmfile import post

            with contextlib.suppress(OSError):
                self.webhook.stop()
            assert self.endpoints is not None
            post(self.endpoints.supervisor, "release", secret=self.secret, pid=os.getpid())
            return
        if self.control is not None:
            self.control.stop()
            self.control = None
        self.supervisor.shutdown()
        if self.cgroup is not None:
            self.cgroup.kill_all()  # nothing of the lab's outlives it, a stress fault's workers included
            self.cgroup.remove()
        stop_guard(self._guard)
        self._guard = None
        with contextlib.suppress(OSError):
            self.webhook.stop()
        for name in ("pids.json", "endpoints.json"):
            (self.config.workdir / name).unlink(missing_ok=True)

    def _make_cgroup(self, settings: dict[str, Any]) -> None:
        """Give the backend its own cgroup with the configured limits, or say why it cannot have one."""
        group = lab_cgroup(self.config.workdir, BACKEND)
        if group.dir("memory").exists():  # a killed run's: empty it first
            group.kill_all()
            group.remove()
        try:
            group.create(float(settings.get("cpus", 1)), int(settings.get("memory_mb", 512)) * 2 ** 20)
        except CgroupUnavailable as exc:
            self.cgroup, self.cgroup_problem = None, str(exc)
        else:
            self.cgroup, self.cgroup_problem = group, None
        mapping = {BACKEND: group.path} if self.cgroup is not None else {}
        (self.config.workdir / "containers.json").write_text(json.dumps(mapping))
        self.faults = lab_fault_kinds(self.cgroup_problem)

    def _web_config(self) -> list[str]:
        """``prometheus/web.yml`` in the lab's config folder, when there is one: TLS or basic auth for the API."""
        path = self.config.config_dir / "prometheus" / "web.yml"  # type: ignore[operator]
        return [f"--web.config.file={path}"] if path.exists() else []

    def fresh_alerting(self, config_dir: Path | None = None) -> float:
        """Alerting as on a lab just started, with ``config_dir``'s config where given (``gameday.lab.reload``)."""
        from gameday.lab.reload import fresh_alerting

        return fresh_alerting(self, config_dir)

    def reset_alerting(self, timeout: float = 60.0) -> float:
        """Restart Prometheus and Alertmanager so that neither holds state of an earlier incident.

        Prometheus forgets the resolved alerts it would resend for 15 minutes, Alertmanager its
        aggregation groups and its notification log (which pages it sent: kept, an alert that fires again
        with the same labels would wait for ``repeat_interval`` as a repeat of a page that was never
        resolved); the TSDB stays. Returns the new epoch.
        """
        for name in ("prometheus", "alertmanager"):
            self.supervisor.stop(name)
        (self.config.workdir / "am-data" / "nflog").unlink(missing_ok=True)
        self.alerting_epoch = time.monotonic()
        for name in ("alertmanager", "prometheus"):
            self.supervisor.start(name)
        self._write_pids()
        self.wait_ready(timeout)
        return self.alerting_epoch

    # -- configuration ---------------------------------------------------------------------------
    def _load_settings(self) -> dict[str, Any]:
        return load_stack_settings(self.config.config_dir, (GATEWAY, BACKEND))  # type: ignore[arg-type]

    def render(self, ports: dict[str, int]) -> dict[str, Path]:
        """Write the time-scaled, address-filled configs into the workdir and check them."""
        cfg = self.config
        addrs = {k: f"127.0.0.1:{p}" for k, p in ports.items()}
        assert self.endpoints is not None
        return render_monitoring(cfg.config_dir, cfg.rules_dir, cfg.workdir / "config", cfg.time_scale,  # type: ignore[arg-type]
                                 addrs, self.endpoints.webhook, (cfg.root / "runbooks").resolve().as_uri(),
                                 webhook_secret=self.webhook.secret)

    # -- readiness -------------------------------------------------------------------------------
    @cached_property
    def prometheus(self) -> Prometheus:
        assert self.endpoints
        return Prometheus(self.endpoints.prometheus)

    @cached_property
    def alertmanager(self) -> Alertmanager:
        assert self.endpoints
        return Alertmanager(self.endpoints.alertmanager)

    def service_healthy(self, name: str) -> bool:
        """The service answers ``/health``; the backend, as the gateway reaches it: through the link too."""
        assert self.endpoints
        if name == GATEWAY:
            return probe(f"{self.endpoints.gateway}/health")
        return probe(f"{self.endpoints.backend}/health") and probe(f"{self.endpoints.link}/health")

    def wait_ready(self, timeout: float) -> None:
        wait_ready(self, timeout, "the lab", lambda: f". Logs: {self.config.workdir / 'logs'}")

    def _write_pids(self) -> None:
        if self.attached:  # the warm lab's own process keeps its pids.json
            return
        status = self.supervisor.status()
        pids = {n: s["pid"] for n, s in status.items() if s["pid"]}
        (self.config.workdir / "pids.json").write_text(json.dumps({"harness": os.getpid(), "pids": pids}))


