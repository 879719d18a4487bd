"""Start and stop the embedded lab: gateway, backend, Prometheus, Alertmanager, webhook receiver."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from string import Template
from typing import Any

import yaml
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from gameday.durations import format_ms, seconds
from gameday.errors import ConfigError, HarnessError
from gameday.lab.supervisor import ControlServer, ServiceSpec, Supervisor
from gameday.lab.webhook import WebhookReceiver
from gameday.lifecycle import CleanOnFailure
from gameday.observe import Alertmanager, Prometheus, probe
from gameday.timescale import RuleError, scale_alertmanager, scale_prometheus, scale_rules

GATEWAY, BACKEND = "inference-gateway", "model-backend"
PROMETHEUS_BIN, ALERTMANAGER_BIN = "prometheus", "prometheus-alertmanager"
INSTALL_HINT = "install them with `apt-get install prometheus prometheus-alertmanager` (or run ./run, which does)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise HarnessError(f"{names[0]} is not on PATH: {INSTALL_HINT}")


@dataclass
class LabConfig:
    """Where the lab's config lives and how fast it runs."""

    root: Path
    workdir: Path
    time_scale: float = 1.0
    rules_dir: Path | None = None
    config_dir: Path | None = None

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

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class Lab(CleanOnFailure):
    """The embedded lab; a context manager that cleans up even when its own start fails."""

    config: LabConfig
    supervisor: Supervisor = field(default_factory=Supervisor)
    webhook: WebhookReceiver = field(default_factory=WebhookReceiver)
    endpoints: Endpoints | None = None
    control: ControlServer | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    started_in: float | None = None
    alerting_epoch: float = 0.0
    """``time.monotonic()`` when Prometheus and Alertmanager last started, holding no alert state."""

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 60.0) -> None:
        t0 = time.monotonic()
        cfg = self.config
        cfg.workdir.mkdir(parents=True, exist_ok=True)
        reap_leftovers(cfg.workdir)
        for stale in ("tsdb", "am-data"):  # every lab starts with empty history
            shutil.rmtree(cfg.workdir / stale, ignore_errors=True)
        self.settings = self._load_settings()
        prom_bin = find_binary(PROMETHEUS_BIN)
        am_bin = find_binary(ALERTMANAGER_BIN, "alertmanager")
        self.webhook.start()
        self.control = ControlServer(self.supervisor).start()
        ports = {k: free_port() for k in ("gateway", "backend", "prometheus", "alertmanager")}
        self.endpoints = Endpoints(**{k: f"http://127.0.0.1:{p}" for k, p in ports.items()},
                                   webhook=self.webhook.url, supervisor=self.control.url)
        rendered = self.render(ports)
        svc = self.settings["services"]
        scale = cfg.time_scale
        logs = cfg.workdir / "logs"
        tag = ["--lab", str(cfg.workdir)]  # lets a leftover process be traced to its lab
        self.supervisor.add(ServiceSpec(
            BACKEND, [sys.executable, "-m", "gameday.lab.backend", "--port", str(ports["backend"]),
                      "--work-ms", str(svc[BACKEND].get("work_ms", 3)), *tag],
            logs / f"{BACKEND}.log", seconds(svc[BACKEND]["restart_delay"]) / scale))
        self.supervisor.add(ServiceSpec(
            GATEWAY, [sys.executable, "-m", "gameday.lab.gateway", "--port", str(ports["gateway"]),
                      "--backend", self.endpoints.backend,
                      "--timeout", str(seconds(svc[GATEWAY]["backend_timeout"])), *tag],
            logs / f"{GATEWAY}.log", seconds(svc[GATEWAY]["restart_delay"]) / scale))
        resend = seconds(self.settings["prometheus"]["resend_delay"]) / scale
        self.supervisor.add(ServiceSpec("alertmanager", [
            am_bin, f"--config.file={rendered['alertmanager']}", f"--storage.path={cfg.workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
            "--log.level=warn"], logs / "alertmanager.log", 1.0))
        self.supervisor.add(ServiceSpec("prometheus", [
            prom_bin, f"--config.file={rendered['prometheus']}", f"--storage.tsdb.path={cfg.workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            f"--rules.alert.resend-delay={format_ms(max(1, round(resend * 1000)))}", "--log.level=warn"],
            logs / "prometheus.log", 1.0))
        self.alerting_epoch = time.monotonic()
        self._write_pids()
        self.wait_ready(ready_timeout)
        self.started_in = time.monotonic() - t0
        (cfg.workdir / "endpoints.json").write_text(json.dumps(self.endpoints.as_dict(), indent=2))

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.control = None
        self.supervisor.shutdown()
        with contextlib.suppress(OSError):
            self.webhook.stop()
        for name in ("pids.json", "endpoints.json"):
            (self.config.workdir / name).unlink(missing_ok=True)

    def reset_alerting(self, timeout: float = 60.0) -> float:
        """Restart Prometheus and Alertmanager so that neither holds state of an earlier incident.

        Prometheus forgets the resolved alerts it would resend for 15 minutes, Alertmanager its
        aggregation groups; the TSDB and the notification log stay. Returns the new epoch.
        """
        for name in ("prometheus", "alertmanager"):
            self.supervisor.stop(name)
        self.alerting_epoch = time.monotonic()
        for name in ("alertmanager", "prometheus"):
            self.supervisor.start(name)
        self._write_pids()
        self.wait_ready(timeout)
        return self.alerting_epoch

    # -- configuration ---------------------------------------------------------------------------
    def _load_settings(self) -> dict[str, Any]:
        path = self.config.config_dir / "lab.yaml"  # type: ignore[operator]
        try:
            data = yaml.safe_load(path.read_text())
            for name in (GATEWAY, BACKEND):
                seconds(data["services"][name]["restart_delay"])
            seconds(data["prometheus"]["resend_delay"])
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(str(path), "services/prometheus", f"unreadable lab settings: {exc}") from None
        return data

    def render(self, ports: dict[str, int]) -> dict[str, Path]:
        """Write the time-scaled, address-filled configs into the workdir and check them."""
        cfg, scale = self.config, self.config.time_scale
        out = cfg.workdir / "config"
        rules_out = out / "rules"
        shutil.rmtree(out, ignore_errors=True)
        rules_out.mkdir(parents=True)
        runbooks = (cfg.root / "runbooks").resolve().as_uri()
        rule_files = sorted([*cfg.rules_dir.glob("*.yml"), *cfg.rules_dir.glob("*.yaml")])  # type: ignore[union-attr]
        if not rule_files:
            raise ConfigError(str(cfg.rules_dir), "(directory)", "holds no rule files (*.yml)")
        for src in rule_files:
            doc = _load_yaml(src, {"runbooks": runbooks})
            try:
                scaled = scale_rules(doc, scale)
            except RuleError as exc:
                raise ConfigError(str(src), exc.field, exc.reason) from None
            except (AttributeError, TypeError) as exc:
                raise ConfigError(str(src), "groups", f"not a Prometheus rule file: {exc}") from None
            (rules_out / (src.stem + ".yml")).write_text(yaml.safe_dump(scaled, sort_keys=False))
        _check("promtool", ["check", "rules", *sorted(str(p) for p in rules_out.glob("*.yml"))],
               str(cfg.rules_dir), "rules")
        addrs = {k: f"127.0.0.1:{p}" for k, p in ports.items()}
        prom = scale_prometheus(_load_yaml(cfg.config_dir / "prometheus" / "prometheus.yml",  # type: ignore[operator]
                                           {**addrs, "rules_dir": str(rules_out)}), scale)
        am = scale_alertmanager(_load_yaml(cfg.config_dir / "alertmanager" / "alertmanager.yml",  # type: ignore[operator]
                                           {"webhook": self.webhook.url}), scale)
        paths = {"prometheus": out / "prometheus.yml", "alertmanager": out / "alertmanager.yml", "rules": rules_out}
        paths["prometheus"].write_text(yaml.safe_dump(prom, sort_keys=False))
        paths["alertmanager"].write_text(yaml.safe_dump(am, sort_keys=False))
        _check("amtool", ["check-config", str(paths["alertmanager"])],
               str(cfg.config_dir / "alertmanager" / "alertmanager.yml"), "route/receivers")  # type: ignore[operator]
        return paths

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
        assert self.endpoints
        url = self.endpoints.gateway if name == GATEWAY else self.endpoints.backend
        return probe(f"{url}/health")

    def readiness(self) -> dict[str, bool]:
        """What is ready now: each service, Prometheus with every target up, the Alertmanager link."""
        state = {GATEWAY: self.service_healthy(GATEWAY), BACKEND: self.service_healthy(BACKEND),
                 "alertmanager": self.alertmanager.ready(), "prometheus": self.prometheus.ready()}
        if state["prometheus"]:
            try:
                up = self.prometheus.targets_up()
                state["scrapes up"] = bool(up) and all(up.values()) and len(up) >= 2
                state["alertmanager linked"] = bool(self.prometheus.alertmanagers())
            except HarnessError:
                state["scrapes up"] = False
        return state

    def wait_ready(self, timeout: float) -> None:
        seen: dict[str, bool] = {}

        def check() -> bool:
            seen.clear()
            seen.update(self.readiness())
            return all(seen.values()) and len(seen) == 6

        try:
            Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(0.1),
                     retry=retry_if_result(lambda ok: not ok))(check)
        except RetryError:
            missing = ", ".join(k for k, v in seen.items() if not v) or "nothing answered yet"
            raise HarnessError(f"the lab was not ready within {timeout:.0f}s: not ready: {missing}. "
                               f"Logs: {self.config.workdir / 'logs'}") from None

    def _write_pids(self) -> None:
        status = self.supervisor.status()
        pids = {n: s["pid"] for n, s in status.items() if s["pid"]}
        (self.config.workdir / "pids.json").write_text(json.dumps({"harness": os.getpid(), "pids": pids}))


def _load_yaml(path: Path, values: dict[str, str]) -> dict[str, Any]:
    try:
        text = Template(path.read_text()).safe_substitute(values)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(str(path), "(file)", exc.strerror or str(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "(file)", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "expected a mapping")
    return data


def _check(tool: str, args: list[str], source: str, field: str) -> None:
    """Run Prometheus's own checker on a rendered config; its complaint becomes one line."""
    binary = shutil.which(tool)
    if not binary:
        return
    res = subprocess.run([binary, *args], capture_output=True, text=True)
    if res.returncode != 0:
        lines = [ln.strip() for ln in (res.stdout + res.stderr).splitlines()]
        wanted = [ln.split("FAILED:", 1)[-1].strip() for ln in lines if "FAILED" in ln]
        detail = " ".join(wanted) or " ".join(" ".join(lines).split())
        raise ConfigError(source, field, f"{tool} {args[0]} failed: {detail}")


def reap_leftovers(workdir: Path) -> list[int]:
    """Kill lab processes that a killed earlier run left behind in this workdir."""
    pidfile = workdir / "pids.json"
    if not pidfile.exists():
        return []
    try:
        recorded = json.loads(pidfile.read_text())
    except ValueError:
        return []
    owner = recorded.get("harness")
    if owner and owner != os.getpid() and Path(f"/proc/{owner}").exists():
        raise HarnessError(f"another lab is running in {workdir} (harness pid {owner}); stop it first, "
                           "or give this run its own --reports folder")
    reaped = []
    for pid in recorded.get("pids", {}).values():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "gameday.lab" in cmdline or str(workdir) in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
                reaped.append(pid)
            except ProcessLookupError:
                pass
    pidfile.unlink()
    return reaped
