"""A team's own stack as a gameday target, from its target file (``targets/NAME.yaml``): services gameday did not
start, watched by a Prometheus and an Alertmanager gameday does not own.

Nothing here renders or restarts the team's monitoring: the drill reads it through its APIs, with the credentials
and TLS the file names, and a time scale other than 1 is refused. Load, probes and reads go only to the networks of
``safety.allow``; only the services of ``safety.faultable`` take faults. Pages are proved *delivered* where the
file gives a receiver: the team's Alertmanager sends them to gameday's webhook, which the team put in its real
receiver, with the secret the file names, and each page is held against the alert Alertmanager and Prometheus hold,
as on the lab. Without one (or asked with ``pages:``) they are proved *attempted* or *routed* only
(``gameday.observe.routed``).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from gameday.compose.faults import CrashContainer, DisconnectNetwork, PauseContainer, StopContainer
from gameday.core.errors import ConfigError, HarnessError, StackUnreachable
from gameday.core.processes import CleanOnFailure
from gameday.observe.clients import Alertmanager, Prometheus
from gameday.observe.receiver import Deliveries, WebhookReceiver
from gameday.observe.routed import AttemptedView, RoutedView
from gameday.observe.skew import date_skew, prometheus_skew
from gameday.target.allowlist import Reach
from gameday.target.protocol import FaultKinds, SliProbe
from gameday.team.containers import CONTAINER_KINDS, NOT_ON_CONTAINER, TeamContainers
from gameday.team.guard import container_refusal, monitoring_ports, process_refusal
from gameday.team.http import read_secret, session_for
from gameday.team.kubernetes import K8S_KINDS, NOT_ON_WORKLOAD, TeamWorkloads
from gameday.team.model import TargetFile
from gameday.team.probes import probe, probe_addresses, split_hostport
from gameday.team.process import ProcessKill, ProcessPause, ProcessService, ProcessStop

NOT_ON_PROCESS = {
    "cpu-stress": "stress on a team's host process is not offered: it would share the host's CPU with everything "
                  "else on it",
    "memory-stress": "memory stress on a team's host process is not offered: it would share the host's memory",
    "packet-loss": "a host process has no network namespace of its own to drop packets in",
    "latency": "a host process has no link of its own to delay",
    "request-failures": "a host process has no relay in front of it to cut requests",
    "network-disconnect": "a host process has no network of its own to cut",
}


class TeamTarget(CleanOnFailure):
    """A target (``gameday.target.protocol.Target``) built from a team's target file."""

    owns_monitoring = False
    created_by_run = False

    def __init__(self, spec: TargetFile, shown: str) -> None:
        self.spec, self.shown = spec, shown
        self.name = spec.name or Path(shown).stem
        mon = spec.monitoring
        self.prometheus = Prometheus(mon.prometheus.url, mon.prometheus.timeout,
                                     session=session_for(mon.prometheus, shown, "monitoring.prometheus"))
        self.alertmanager = Alertmanager(mon.alertmanager.url, mon.alertmanager.timeout,
                                         session=session_for(mon.alertmanager, shown, "monitoring.alertmanager"))
        for part, api in (("prometheus", self.prometheus), ("alertmanager", self.alertmanager)):
            api.credentials = f"check monitoring.{part}.auth in {shown} and the secret it names"
            api.tls_hint = f"check monitoring.{part}.tls (ca_file, server_name) in {shown}"
        self.reach = Reach.of(spec.safety.allow, f"safety.allow in {shown}")
        self.sli = SliProbe(spec.sli_service.name)
        self._services = {s.name: s for s in spec.services}
        self._process = {s.name: ProcessService(s.name, s.platform.process, shown)
                         for s in spec.services if s.platform is not None and s.platform.process is not None}
        self.containers = TeamContainers({s.name: s.platform for s in spec.services if s.platform is not None
                                          and s.platform.kind in ("docker", "compose")}, shown)
        self.workloads = TeamWorkloads({s.name: s.platform.kubernetes for s in spec.services
                                        if s.platform is not None and s.platform.kubernetes is not None},
                                       spec.safety.kubernetes, shown)
        self.faults = self._fault_kinds()
        self.webhook: WebhookReceiver | RoutedView | None = None
        self._secret = read_secret(spec.receiver.secret, shown, "receiver.secret") if spec.receiver else None
        self.alerting_epoch = 0.0
        self.clock_skew: dict[str, float] = {}
        """Each monitoring server's clock minus the harness's, in seconds, read when the target started."""
        self.started_in: float | None = None
        self.level = spec.pages or spec.offered()[-1]
        """How far pages are proved on this target (``gameday.team.model.LEVELS``)."""
        if self.level not in spec.offered():
            raise ConfigError(shown, "pages", f"{self.level} needs a receiver (where gameday's webhook listens)")
        self.pages = {"level": self.level, "how": (
            f"gameday's webhook in the team's receivers ({spec.receiver.listen if spec.receiver else '-'}), with the "
            "secret of receiver.secret; the receiver is the one the page's payload names, and each page is held "
            "against the alert the team's Alertmanager and Prometheus hold" if self.level == "delivered" else
            "Alertmanager's API holds the alert active, neither silenced nor inhibited, at the receiver, and its "
            "live route tree agrees; then its notification counters for each of the receiver's integrations moved "
            "and its failure counters did not (the counters cannot name the alert); the time is when they moved: "
            "nothing proves the notification arrived" if self.level == "attempted" else
            "Alertmanager's API holds the alert active, neither silenced nor inhibited, at the receiver, and its "
            "live route tree agrees; the time is when it first held it there, before group_wait: nothing proves a "
            "notification was sent or arrived")}
        if more := self._to_prove_more():
            self.pages["more"] = more
        self.warnings = [f"{shown}: monitoring.{part}.tls.insecure_skip_verify: the harness does not check that "
                         f"{getattr(mon, part).url} is the team's server" for part in ("prometheus", "alertmanager")
                         if getattr(mon, part).tls is not None and getattr(mon, part).tls.insecure_skip_verify]

    def _to_prove_more(self) -> str | None:
        """The setting that would prove pages at a higher level than this target does, or None at the top."""
        offered = self.spec.offered()
        if self.level != offered[-1]:
            return f"pages: {self.level} in {self.shown} holds it there (it could prove {offered[-1]})"
        if self.level != "delivered":
            return (f"a receiver in {self.shown} (receiver.listen and receiver.secret), with gameday's webhook in "
                    "the team's Alertmanager receivers, proves delivered (docs/guides/own-stack.md)")
        return None

    # -- the target ------------------------------------------------------------------------------
    @property
    def receiver(self) -> Deliveries:
        if self.webhook is None:
            raise HarnessError(f"the {self.name} target has not started its receiver")
        return self.webhook

    def services(self) -> list[str]:
        return list(self._services)

    def url(self, service: str) -> str:
        s = self._services[service]
        if s.url is not None:
            return s.url.rstrip("/")
        if s.probe.tcp is not None:
            host, port = split_hostport(s.probe.tcp)
            return f"http://{host}:{port}"
        raise HarnessError(f"{self.shown}: services.{service}: no url to send load to")

    def is_running(self, service: str) -> bool:
        platform = self._process.get(service)
        if platform is not None:
            return platform.is_running()
        if service in self.containers.platforms:
            return self.containers.is_running(service)
        if service in self.workloads.platforms:
            return self.workloads.is_running(service)
        return self.service_healthy(service)

    def last_started(self, service: str) -> float | None:
        platform = self._process.get(service)
        if platform is not None:
            return platform.last_started()
        if service in self.workloads.platforms:
            return self.workloads.last_started(service)
        return self.containers.last_started(service) if service in self.containers.platforms else None

    def allowlist(self) -> list[str]:
        urls = [self.prometheus.base_url, self.alertmanager.base_url]
        for s in self._services.values():
            urls += probe_addresses(s)
        return urls

    def sli_healthy(self) -> bool:
        return self.service_healthy(self.sli.service)

    def service_healthy(self, service: str) -> bool:
        return probe(self._services[service], self.prometheus)

    def runbook_env(self) -> dict[str, str]:
        env = {"PROMETHEUS": self.prometheus.base_url, "ALERTMANAGER": self.alertmanager.base_url}
        for name, s in self._services.items():
            if s.url:
                env[name.upper().replace("-", "_").replace(".", "_") + "_URL"] = s.url
        return env

    # -- faults ----------------------------------------------------------------------------------
    def _takes(self, name: str) -> tuple[str, ...]:
        """The fault kinds the service's platform takes (a host process's stop only where it can be started)."""
        if name in self._process:
            return ("kill-service", "pause-service") + (("stop-service",) if self._process[name].can_start() else ())
        if name in self.containers.platforms:
            return CONTAINER_KINDS
        return K8S_KINDS if name in self.workloads.platforms else ()

    def _fault_kinds(self) -> FaultKinds:
        """The kinds each faultable service's platform takes: signals for a host process, the engine's API for a
        container, the API server for a workload; a kind is offered where one faultable service takes it, and
        aimed only at those that do."""
        faultable = self.spec.safety.faultable
        on_process = [n for n in self._process if n in faultable]
        platforms = {kind: [n for n in faultable if n in names] for kind, names in (
            ("container", self.containers.platforms), ("kubernetes", self.workloads.platforms),
            ("process", self._process))}  # in this order, the reason a kind is missing
        kinds = FaultKinds()
        every = [*CONTAINER_KINDS, *(k for k in K8S_KINDS if k not in CONTAINER_KINDS)]
        if not any(platforms.values()):
            reason = (f"no service is in safety.faultable of {self.shown}" if not faultable else
                      f"none of safety.faultable in {self.shown} has a platform that takes it")
            kinds.missing = {k: reason for k in every}
            return kinds
        why = f"the others are not in safety.faultable of {self.shown}, or have no platform that takes it"
        not_on = {"process": NOT_ON_PROCESS, "container": NOT_ON_CONTAINER, "kubernetes": NOT_ON_WORKLOAD}
        startable = [n for n in on_process if self._process[n].can_start()]
        for kind in every:
            aims = [n for n in faultable if kind in self._takes(n)]
            if not aims:
                continue

            def build(t: Any, spec: Any, d: Any, ledger: Any, kind: str = kind) -> Any:
                t.refuse_monitoring(spec.target)
                return t._build(kind, spec, ledger)

            kinds.builders[kind] = build
            kinds.aims[kind] = (tuple(aims), why + (", or cannot be started again (a systemd unit or "
                                                     "platform.process.start)" if kind == "stop-service"
                                                     and len(startable) < len(on_process) else ""))
        if "stop-service" not in kinds.builders and on_process:
            kinds.missing["stop-service"] = ("no faultable service can be started again: give a systemd unit or "
                                             "platform.process.start")
        for platform, names in platforms.items():
            for kind, reason in not_on[platform].items() if names else ():
                if kind not in kinds.builders:
                    kinds.missing.setdefault(kind, reason)
        return kinds

    def _build(self, kind: str, spec: Any, ledger: Any) -> Any:
        """The fault of ``kind`` on the service's own platform."""
        if spec.target in self._process:
            faults = {"kill-service": ProcessKill, "stop-service": ProcessStop, "pause-service": ProcessPause}
            return faults[kind](self._process[spec.target], ledger)
        if spec.target in self.workloads.platforms:
            return self.workloads.build(kind, spec, ledger)
        if kind == "kill-service":
            return CrashContainer(self.containers, spec.target, None, ledger)
        faults = {"stop-service": StopContainer, "pause-service": PauseContainer,
                  "network-disconnect": DisconnectNetwork}
        return faults[kind](self.containers, spec.target, ledger)

    def fault_refusal(self, spec: Any) -> str | None:
        """Why this fault must not run, known before any fault: on a team's workload, more pods than the file's
        bound, or the monitoring's own pod (``gameday.team.kubernetes``); None elsewhere."""
        if spec.target not in self.workloads.platforms:
            return None
        urls = {f"monitoring.{part}.url": getattr(self.spec.monitoring, part).url
                for part in ("prometheus", "alertmanager")}
        return self.workloads.refusal(spec, urls)

    def refuse_monitoring(self, service: str) -> None:
        """One line, before any fault, when the service the file names is the team's Prometheus or Alertmanager
        on this host, or the harness itself (``gameday.team.guard``); a service not running now passes."""
        urls = {f"monitoring.{part}.url": getattr(self.spec.monitoring, part).url
                for part in ("prometheus", "alertmanager")}
        ports = monitoring_ports(urls)
        what = f"{self.shown}: services.{service}"
        problem = None
        if (platform := self._process.get(service)) is not None:
            proc = platform.find()
            problem = process_refusal(proc.pid, f"{what} ({platform.describe()})", ports) if proc else None
        elif service in self.containers.platforms:
            c = self.containers.container(service)
            problem = container_refusal(c, f"{what} ({self.containers.describe(service)})", ports, urls)
        if problem:
            raise HarnessError(problem)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 30.0) -> None:
        t0 = time.monotonic()
        for url in self.allowlist():
            self.reach.check(url)
        self.workloads.start()  # each workload found, with the selector of its pods
        for service in self.spec.safety.faultable:  # each container found exactly once, none the monitoring
            self.refuse_monitoring(service)
        if self.level == "delivered":
            assert self.spec.receiver is not None
            host, port = split_hostport(self.spec.receiver.listen)
            try:
                self.webhook = WebhookReceiver(host, port, secret=self._secret, named_by_payload=True).start()
            except OSError as exc:
                raise HarnessError(f"{self.shown}: receiver.listen {self.spec.receiver.listen}: cannot listen there: "
                                   f"{exc.strerror or exc}") from None
        deadline = time.monotonic() + ready_timeout
        missing: list[str] = []
        while True:
            missing = []
            for name, api in (("Prometheus", self.prometheus), ("Alertmanager", self.alertmanager)):
                if not api.ready():
                    missing.append(f"{name} at {api.base_url}")
            missing += [f"service {s}" for s in self._services if not self.service_healthy(s)]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if missing:
            raise StackUnreachable(f"the {self.name} target ({self.shown}) is not ready after {ready_timeout:g}s: "
                                   f"{', '.join(missing)} did not answer")
        if self.level == "routed":
            self.webhook = RoutedView(self.alertmanager).start()
        elif self.level == "attempted":
            view = AttemptedView(self.alertmanager).start()
            if not view.per_receiver:
                self.pages["how"] += ("; this Alertmanager does not label its counters with the receiver, so they "
                                      "are each integration's, shared by every receiver that uses it")
            self.webhook = view
        self.clock_skew = {"prometheus": round(prometheus_skew(self.prometheus), 3)}
        am = date_skew(self.alertmanager)
        if am is not None:
            self.clock_skew["alertmanager"] = round(am, 1)
        if problem := skew_problem(self.clock_skew, self.spec.safety.max_clock_skew, self.name, self.shown):
            raise HarnessError(problem)
        wall = max(self.prometheus.started(), self.alertmanager.started())
        self.alerting_epoch = time.monotonic() - max(0.0, time.time() - wall)
        self.started_in = time.monotonic() - t0

    def stop(self) -> None:
        self.workloads.stop()
        if self.webhook is not None:
            with contextlib.suppress(OSError):
                self.webhook.stop()


def skew_problem(skew: dict[str, float], bound: float, name: str, shown: str) -> str | None:
    """Why a drill must not run with Prometheus's clock this far off (None when it is within ``bound``)."""
    off = skew.get("prometheus", 0.0)
    if abs(off) <= bound:
        return None
    return (f"the {name} target: Prometheus's clock is {off:+.3f}s off this machine's, past the bound of {bound:g}s "
            f"(safety.max_clock_skew in {shown}): set the clocks right (NTP), or raise the bound knowing every time "
            "derived from startsAt is off by as much")
