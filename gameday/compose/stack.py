"""The Compose stack as a target: ``docker-compose.yml`` brought up and down by the harness, read through the
Docker Engine API (the ``docker`` package)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gameday.compose.engine import compose_binary, default_project, engine
from gameday.core.clock import parse_rfc3339
from gameday.core.durations import format_ms, seconds
from gameday.core.errors import HarnessError
from gameday.core.processes import CleanOnFailure, start_guard
from gameday.observe.clients import Alertmanager, Prometheus, probe
from gameday.observe.receiver import WebhookReceiver
from gameday.target.lock import TargetLock
from gameday.target.monitoring import load_stack_settings, render_monitoring
from gameday.target.ports import free_port
from gameday.target.protocol import FaultKinds, SliProbe
from gameday.target.readiness import wait_ready

GATEWAY, BACKEND = "inference-gateway", "model-backend"
MONITORING = ("prometheus", "alertmanager")
PORTS = {GATEWAY: 8000, BACKEND: 8001, "prometheus": 9090, "alertmanager": 9093}
IMAGE_INPUTS = ("docker/Dockerfile", "docker/restart-delay.sh", "gameday/lab/gateway.py", "gameday/lab/backend.py",
                "gameday/lab/cgroups.py")
FAULT_LABEL = "io.gameday.fault"
MADE_BY_COMPOSE = "com.docker.compose.container-number"
"""On a container Compose made, never on an image: a container run by hand from the stack's image carries the
image's project and service labels (Compose puts them on an image it builds), and is not the service."""


@dataclass
class ComposeConfig:
    root: Path
    workdir: Path
    time_scale: float = 1.0
    rules_dir: Path | None = None
    config_dir: Path | None = None
    keep: bool = False
    """Use the stack if it is already up, and leave it up at the end."""
    project: str = field(default_factory=default_project)

    def __post_init__(self) -> None:
        self.config_dir = self.config_dir or self.root / "config"
        self.rules_dir = self.rules_dir or self.config_dir / "prometheus" / "rules"


@dataclass
class ComposeStack(CleanOnFailure):
    """The stack of ``docker-compose.yml`` as a target (``gameday.target.protocol.Target``)."""

    name = "compose"
    owns_monitoring = True
    sli = SliProbe(GATEWAY, "POST", "/v1/predict", {"inputs": [0.1]})

    config: ComposeConfig
    receiver: WebhookReceiver | None = None  # type: ignore[assignment]
    faults: FaultKinds = field(default_factory=FaultKinds)
    alerting_epoch: float = 0.0
    started_in: float | None = None
    urls: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    _client: Any = None
    _started_here: bool = False
    created_by_run: bool = True
    """False when ``keep`` found the project's containers already there: a stack with a history of its own."""
    _lock: TargetLock | None = None
    _guard: Any = None
    _up_at: float = float("inf")
    """``gameday.compose.guard``: brings the stack down should this run die without doing it."""
    when_serving: Callable[[ComposeStack], None] | None = None
    """Called once while the stack gets ready, as soon as its services answer
        (``gameday.target.readiness.wait_ready``)."""

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 120.0) -> None:
        from gameday.compose.kinds import compose_fault_kinds

        t0 = time.monotonic()
        cfg = self.config
        cfg.workdir.mkdir(parents=True, exist_ok=True)
        self._lock = TargetLock(f"compose-{cfg.project}").acquire()
        self._client = engine()
        self.ports = self._choose_ports()
        self.ensure_image()
        self.created_by_run = not (cfg.keep and self._client.containers.list(
            all=True, filters={"label": [f"com.docker.compose.project={cfg.project}", MADE_BY_COMPOSE]}))
        self._compose("create", "--no-recreate" if cfg.keep else "--force-recreate", "--quiet-pull")
        self._started_here = True
        if not cfg.keep:  # should this run be killed outright, the stack goes down all the same
            self._guard = start_guard("gameday.compose.guard", [  # the run's ledger is beside the stack's folder
                "--project", cfg.project, "--ledger", str(cfg.workdir.parent / "fault-ledger.jsonl")],
                cfg.workdir / "guard.log")
        gateway_ip = self._network_gateway()
        # the page stays on the run's own bridge: the receiver listens on the host's address there only
        self.receiver = WebhookReceiver(host=gateway_ip).start()
        self._render()
        self._map_cgroups()
        self.alerting_epoch = time.monotonic()
        self._compose("up", "--detach", "--no-recreate")
        if cfg.keep:  # a stack that was already up reads the config rendered for this session
            self._restart(*MONITORING)
        self.urls = {svc: self._published(svc) for svc in PORTS}
        self.faults = compose_fault_kinds(self)
        self._up_at = time.time()  # later starts of the monitoring containers are restarts (``diagnose``)
        self.wait_ready(ready_timeout)
        self.started_in = time.monotonic() - t0

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self._client is not None:
                for c in self._client.containers.list(all=True, filters={"label": FAULT_LABEL}):
                    c.remove(force=True)
        if self.receiver is not None:
            with contextlib.suppress(OSError):
                self.receiver.stop()
        if self._started_here and not self.config.keep:
            with contextlib.suppress(HarnessError):  # an engine that does not answer: the guard sees to it
                self._compose("down", "--volumes", "--remove-orphans", "--timeout", "5")
        self._guard = None  # it checks, once this process has ended, that nothing of the stack came back
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- images and compose ----------------------------------------------------------------------
    def image_tag(self) -> str:
        digest = hashlib.sha256()
        for rel in IMAGE_INPUTS:
            digest.update((self.config.root / rel).read_bytes())
        return digest.hexdigest()[:12]

    def ensure_image(self) -> None:
        """Build the stack's image unless the engine has this version of it; make the base image first if needed."""
        self._client = self._client or engine()
        tag = self.image_tag()
        if self._has_image(tag):
            return
        # runs side by side (pytest -n, two projects) build one image once: the second waits for the first
        build = TargetLock("compose-image-build")
        try:
            build.acquire()
        except HarnessError:
            print(f"gameday: waiting for another run's build of gameday-stack:{tag}", file=sys.stderr, flush=True)
            build.acquire(wait=True)
        try:
            if not self._has_image(tag):
                self._build(tag)
        finally:
            build.release()

    def _has_image(self, tag: str) -> bool:
        import docker

        try:
            self._client.images.get(f"gameday-stack:{tag}")
            return True
        except docker.errors.ImageNotFound:
            return False

    def _build(self, tag: str) -> None:
        base = self.config.root / "docker" / "base-image.sh"
        res = subprocess.run(["bash", str(base)], capture_output=True, text=True)
        if res.returncode != 0:
            raise HarnessError(f"could not make the base image debian:bookworm-slim: {res.stderr.strip()[-400:]}")
        out = self._compose("build", "--quiet", timeout=1200)
        if not self._has_image(tag):  # a build can fail with exit code 0 (the image is then simply not there)
            raise HarnessError(f"docker compose build made no image gameday-stack:{tag} (run `docker compose "
                               f"build` to see why){': ' + ' '.join(out.split())[-300:] if out.strip() else ''}")

    def _choose_ports(self) -> dict[str, int]:
        """Free loopback ports for the published services; a stack that is up keeps the ones it has."""
        ports = {svc: free_port() for svc in PORTS}
        for c in self._containers():
            svc = c.labels.get("com.docker.compose.service")
            bindings = (c.attrs["HostConfig"].get("PortBindings") or {}).get(f"{PORTS.get(svc, 0)}/tcp") or []
            if svc in ports and bindings and bindings[0].get("HostPort"):
                ports[svc] = int(bindings[0]["HostPort"])
        return ports

    def _env(self) -> dict[str, str]:
        cfg = self.config
        settings = self._settings()
        svc = settings["services"]
        resend = seconds(settings["prometheus"]["resend_delay"]) / cfg.time_scale
        ports = {f"GAMEDAY_{svc.split('-')[-1].upper()}_PORT": str(port) for svc, port in self.ports.items()}
        return {**os.environ, **ports, "GAMEDAY_IMAGE_TAG": self.image_tag(),
                "GAMEDAY_CONFIG": str((cfg.workdir / "config").resolve()),
                "GAMEDAY_GATEWAY_RESTART_DELAY": f"{seconds(svc[GATEWAY]['restart_delay']) / cfg.time_scale:g}",
                "GAMEDAY_BACKEND_RESTART_DELAY": f"{seconds(svc[BACKEND]['restart_delay']) / cfg.time_scale:g}",
                "GAMEDAY_RESEND_DELAY": format_ms(max(1, round(resend * 1000)))}

    def _compose(self, *args: str, timeout: float = 300) -> str:
        cfg = self.config
        argv = [*compose_binary(), "--project-name", cfg.project, "--file", str(cfg.root / "docker-compose.yml"),
                "--project-directory", str(cfg.root), *args]
        res = subprocess.run(argv, capture_output=True, text=True, env=self._env(), timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise HarnessError(f"docker compose {args[0]} failed: {' '.join(res.stderr.split())[-600:]}"
                               + self._failed_service_logs())
        return res.stdout

    def _failed_service_logs(self) -> str:
        """The last log lines of a service that is not running, to say why a start failed."""
        if self._client is None:
            return ""
        with contextlib.suppress(Exception):
            for c in self._containers():
                if c.status in ("exited", "dead", "restarting") and c.labels.get(FAULT_LABEL) is None:
                    tail = c.logs(tail=5).decode(errors="replace").strip().splitlines()
                    return f"; {c.labels.get('com.docker.compose.service')} is {c.status}: " + " | ".join(tail)
        return ""

    def _settings(self) -> dict[str, Any]:
        return load_stack_settings(self.config.config_dir, (GATEWAY, BACKEND))  # type: ignore[arg-type]

    def _render(self) -> None:
        cfg = self.config
        assert self.receiver is not None
        addrs = {"gateway": f"{GATEWAY}:8000", "backend": f"{BACKEND}:8001", "alertmanager": "alertmanager:9093",
                 "containers": "container-exporter:9100"}
        render_monitoring(cfg.config_dir, cfg.rules_dir, cfg.workdir / "config", cfg.time_scale, addrs,  # type: ignore[arg-type]
                          self.receiver.url, (cfg.root / "runbooks").resolve().as_uri(), rules_seen_at="/config/rules",
                          webhook_secret=self.receiver.secret)

    def _map_cgroups(self) -> None:
        """Tell the container exporter which cgroup is which service's (cgroup v1, cgroupfs driver: the
        engine puts container ``<id>`` in ``docker/<id>``; a stress sidecar joins it as a child)."""
        mapping = {c.labels.get("com.docker.compose.service"): f"docker/{c.id}" for c in self._containers()
                   if c.labels.get(FAULT_LABEL) is None}
        path = self.config.workdir / "config" / "containers.json"
        path.write_text(json.dumps({k: v for k, v in mapping.items() if k in (GATEWAY, BACKEND)}))

    # -- containers ------------------------------------------------------------------------------
    def _containers(self) -> list[Any]:
        """The project's service containers. A fault's sidecar runs the stack's image, whose labels (Compose puts
        its project and service on an image it builds) would make it look like the service itself: left out."""
        found = self._client.containers.list(all=True, filters={"label": [f"com.docker.compose.project="
                                                                           f"{self.config.project}", MADE_BY_COMPOSE]})
        return [c for c in found if FAULT_LABEL not in (c.labels or {})]

    def container(self, service: str) -> Any:
        for c in self._containers():
            if c.labels.get("com.docker.compose.service") == service:
                return c
        raise HarnessError(f"the compose stack has no container for {service}")

    def network(self, service: str | None = None) -> Any:
        """The stack's network, which every service is on."""
        return self._client.networks.get(f"{self.config.project}_default")

    def _network_gateway(self) -> str:
        import docker

        try:
            config = self.network().attrs["IPAM"]["Config"]
        except docker.errors.NotFound:
            raise HarnessError(f"docker compose create made no network {self.config.project}_default: "
                               f"run `docker compose -p {self.config.project} create` to see why") from None
        gateway = next((c.get("Gateway") for c in config if c.get("Gateway")), None)
        if not gateway:
            raise HarnessError(f"the network {self.config.project}_default has no gateway address")
        return gateway

    def _published(self, service: str) -> str:
        """The service's address on loopback: the port the harness chose (and the engine keeps across restarts)."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def _restart(self, *services: str) -> None:
        for svc in services:
            self.container(svc).restart(timeout=5)

    def reset_alerting(self, timeout: float = 60.0) -> float:
        """Restart the Prometheus and Alertmanager containers, which then hold no earlier incident's state
        (Alertmanager's storage is a tmpfs: its notification log goes with the container's run)."""
        for svc in MONITORING:
            self.container(svc).stop(timeout=5)
        self.alerting_epoch = time.monotonic()
        for svc in reversed(MONITORING):
            self.container(svc).start()
        self.urls.update({svc: self._published(svc) for svc in MONITORING})
        self._up_at = time.time()
        self.__dict__.pop("prometheus", None)
        self.__dict__.pop("alertmanager", None)
        self.wait_ready(timeout)
        return self.alerting_epoch

    # -- the target ------------------------------------------------------------------------------
    @cached_property
    def prometheus(self) -> Prometheus:
        return Prometheus(self.urls["prometheus"])

    @cached_property
    def alertmanager(self) -> Alertmanager:
        return Alertmanager(self.urls["alertmanager"])

    def services(self) -> list[str]:
        return [GATEWAY, BACKEND]

    def url(self, service: str) -> str:
        return self.urls[service]

    def diagnose(self) -> str | None:
        """When Prometheus or Alertmanager failed mid-drill: whether the engine under them is why (it stopped
        answering, or it restarted and took the stack's containers with it)."""
        try:
            self._client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure to answer is the engine's
            return f"the Docker engine stopped answering ({type(exc).__name__})"
        with contextlib.suppress(Exception):
            for name in MONITORING:
                state = self.state(name)
                if not state.get("Running"):
                    return (f"the {name} container is {state.get('Status', 'not running')} (stopped by the Docker "
                            "engine, which may be shutting down, or it died)")
                started = parse_rfc3339(state.get("StartedAt", ""))
                if started > self._up_at:
                    return (f"the {name} container started again at {self.state(name).get('StartedAt')} (the "
                            "Docker engine restarted, or the container died)")
        return None

    def state(self, service: str) -> dict[str, Any]:
        from gameday.compose.faults import container_state

        return container_state(lambda: self.container(service), service)

    def trainee_actions(self, since: float) -> list[tuple[float, str]]:
        """What a person did to the stack's containers since ``since`` (``time.monotonic()``), from the engine's
        events: restarts, stops, pauses and unpauses, which only a request makes (a restart policy's restart is
        a die and a start, not listed). For a shadow exercise's timeline."""
        import docker

        offset = time.time() - time.monotonic()
        try:
            events = self._client.events(since=since + offset, until=time.time(), decode=True, filters={
                "type": "container", "label": f"com.docker.compose.project={self.config.project}",
                "event": ["restart", "stop", "pause", "unpause"]})
            seen = [(e["timeNano"] / 1e9 - offset, e.get("Action", "?"),
                     e.get("Actor", {}).get("Attributes", {}).get("com.docker.compose.service", "?")) for e in events]
        except (docker.errors.APIError, KeyError, ValueError):
            return []
        return [(t, f"{action} of the {service} container (asked of the Docker engine)") for t, action, service in seen]

    def is_running(self, service: str) -> bool:
        st = self.state(service)
        return bool(st.get("Running")) and not st.get("Paused")

    def last_started(self, service: str) -> float | None:
        """When the service itself last started: the engine's ``StartedAt``, plus any restart back-off."""
        st = self.state(service)
        if not st.get("Running"):
            return None
        wall = parse_rfc3339(st["StartedAt"])
        with contextlib.suppress(Exception):
            out = self.container(service).exec_run(["cat", "/run/gameday/service-started"]).output
            wall = max(wall, float(out.decode().strip()))
        return time.monotonic() - (time.time() - wall)

    def allowlist(self) -> list[str]:
        return list(self.urls.values())

    def service_healthy(self, service: str) -> bool:
        return probe(f"{self.urls[service]}/health")

    def sli_healthy(self) -> bool:
        return self.service_healthy(GATEWAY) and self.sli.check(self.urls[GATEWAY])

    def runbook_env(self) -> dict[str, str]:
        """The services' published addresses, and what ``docker compose`` needs to find this stack: a runbook's
        ``docker compose restart inference-gateway`` acts on the drill's project."""
        cfg = self.config
        names = {GATEWAY: "GATEWAY", BACKEND: "BACKEND", "prometheus": "PROMETHEUS", "alertmanager": "ALERTMANAGER"}
        # the harness's own docker-compose (PyPI) first on PATH: the one it brought the stack up with
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
        return {names[svc]: url for svc, url in self.urls.items() if svc in names} | {
            "COMPOSE_PROJECT_NAME": cfg.project, "COMPOSE_FILE": str(cfg.root / "docker-compose.yml"), "PATH": path}

    def wait_ready(self, timeout: float) -> None:
        wait_ready(self, timeout, "the compose stack", self._failed_service_logs, broken=self._failed_service_logs)
