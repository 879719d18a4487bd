"""A team's own stack as data: ``targets/NAME.yaml``, validated into a model (one line naming file, field and
reason when it is wrong, as for scenarios).

A target file names the team's Prometheus and Alertmanager (how to reach and authenticate to them), the services
a drill may load, probe and fault (and how a fault reaches each: its platform), where gameday's webhook receiver
listens for the pages the team's Alertmanager sends it, and what the run may touch at all. Credentials are never in
the file: it names the environment variable or the file that holds each.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gameday.core.durations import parse_ms
from gameday.scenario.model import PAGE_LEVELS, PageLevel

LEVELS = PAGE_LEVELS
"""How far a page is proved on an Alertmanager gameday does not own (``gameday.scenario.model.PAGE_LEVELS``):
delivered means gameday's webhook receiver, which the team added beside its real one."""

SERVICE_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$"


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("expected a duration such as 2s or 500ms")
    seconds = parse_ms(value) / 1000 if isinstance(value, str) else float(value)
    if not (math.isfinite(seconds) and 0 < seconds <= 300):
        raise ValueError("must be a duration above zero and at most 5m")
    return seconds


def _port_in_range(value: str | None) -> str | None:
    if value is not None and not 0 <= int(value.rpartition(":")[2]) <= 65535:
        raise ValueError(f"{value!r}: a port is a number from 0 to 65535")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def _exactly_one(self, *names: str) -> None:
        """Refuse a choice given with none or several of its alternatives."""
        if sum(getattr(self, n) is not None for n in names) != 1:
            *rest, last = names
            raise ValueError(f"give exactly one of {', '.join(rest)} or {last}")


class Secret(_Model):
    """Where a secret is: an environment variable or a file (its first line); never the value itself."""

    env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = Field(None, max_length=1024)

    @model_validator(mode="after")
    def _one(self) -> Secret:
        self._exactly_one("env", "file")
        return self


class BasicAuth(_Model):
    username: str = Field(min_length=1, max_length=256)
    password: Secret


class Auth(_Model):
    basic: BasicAuth | None = None
    bearer: Secret | None = None

    @model_validator(mode="after")
    def _one(self) -> Auth:
        self._exactly_one("basic", "bearer")
        return self


class Tls(_Model):
    ca_file: str | None = Field(None, max_length=1024)
    cert_file: str | None = Field(None, max_length=1024)
    key_file: str | None = Field(None, max_length=1024)
    server_name: str | None = Field(None, max_length=253)
    insecure_skip_verify: bool = False
    """Only with a warning in every report: the harness cannot tell the team's server from anyone's."""

    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        return self


class Endpoint(_Model):
    """How the harness reaches one of the team's Prometheus or Alertmanager."""

    url: str = Field(pattern=r"^https?://[^\s/]+", max_length=1024)
    auth: Auth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    tls: Tls | None = None
    timeout: float = 5.0

    _t = field_validator("timeout", mode="before")(_seconds)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() == "authorization":
                raise ValueError("Authorization comes from auth (a secret's env or file), never from the file")
        return value


class Monitoring(_Model):
    prometheus: Endpoint
    alertmanager: Endpoint


class HttpProbe(_Model):
    method: Literal["GET", "HEAD", "POST"] = "GET"
    path: str = Field("/", pattern=r"^/", max_length=1024)
    status: int = Field(200, ge=100, le=599)
    timeout: float = 2.0

    _t = field_validator("timeout", mode="before")(_seconds)


class Probe(_Model):
    """The user's view of the service: one HTTP request, a TCP connect, or a PromQL expression that returns data."""

    http: HttpProbe | None = None
    tcp: str | None = Field(None, pattern=r"^\[?[^\s\]]+\]?:\d{1,5}$")
    promql: str | None = Field(None, min_length=1, max_length=4096)

    _port = field_validator("tcp")(_port_in_range)

    @model_validator(mode="after")
    def _one(self) -> Probe:
        self._exactly_one("http", "tcp", "promql")
        return self


class ProcessPlatform(_Model):
    """A process on this host, found by a pid file, a systemd unit, or a command line matching exactly one."""

    pidfile: str | None = Field(None, max_length=1024)
    systemd: str | None = Field(None, pattern=r"^[A-Za-z0-9@_.:-]+$")
    cmdline: str | None = Field(None, min_length=1, max_length=1024)
    start: list[str] | None = Field(None, min_length=1, max_length=64)
    """For a pid file or command line: how the service is started again when a fault stopped it (a systemd unit
    is started with ``systemctl start``)."""

    @model_validator(mode="after")
    def _one(self) -> ProcessPlatform:
        self._exactly_one("pidfile", "systemd", "cmdline")
        if self.systemd is not None and self.start is not None:
            raise ValueError("a systemd unit is started with systemctl: start is for pidfile and cmdline")
        return self


class DockerPlatform(_Model):
    container: str | None = Field(None, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", max_length=255)
    label: str | None = Field(None, pattern=r"^[^=\s]+=[^\s]*$", max_length=1024)

    @model_validator(mode="after")
    def _one(self) -> DockerPlatform:
        self._exactly_one("container", "label")
        return self


class ComposePlatform(_Model):
    project: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=255)
    service: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", max_length=255)


LABEL_SELECTOR = r"^[A-Za-z0-9][A-Za-z0-9_./-]*=[A-Za-z0-9_.-]*(,[A-Za-z0-9][A-Za-z0-9_./-]*=[A-Za-z0-9_.-]*)*$"
"""Equality terms only (``app=shop,tier=web``): what a pod must carry, every term of it."""
K8S_NAME = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"


class KubernetesPlatform(_Model):
    """A workload on a Kubernetes cluster, reached through the official client: by its kubeconfig (and context)
    or the service account of the pod the harness runs in; a Deployment or StatefulSet by name, or its pods by a
    label selector (a fault never reaches a pod the selector does not match)."""

    kubeconfig: str | None = Field(None, max_length=1024)
    """The kubeconfig file; ``$KUBECONFIG`` or ``~/.kube/config`` when absent."""
    in_cluster: bool = False
    """The harness runs in a pod of that cluster: its service account's token and CA."""
    context: str | None = Field(None, max_length=253)
    namespace: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    kind: Literal["Deployment", "StatefulSet"] | None = None
    name: str | None = Field(None, pattern=K8S_NAME)
    selector: str | None = Field(None, max_length=1024)
    """Which pods are the service's; the workload's own ``matchLabels`` when a kind and name are given."""
    container: str | None = Field(None, pattern=K8S_NAME)
    """The container a stress runs in (the pod's first when absent)."""

    @field_validator("selector")
    @classmethod
    def _equality(cls, value: str | None) -> str | None:
        if value is not None and not re.match(LABEL_SELECTOR, value):
            raise ValueError(f"{value!r}: equality terms only, such as app=shop,tier=web")
        return value

    @model_validator(mode="after")
    def _which(self) -> KubernetesPlatform:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster uses the pod's service account: kubeconfig and context are for the others")
        if (self.kind is None) != (self.name is None):
            raise ValueError("a workload is named by kind and name together")
        if self.name is None and self.selector is None:
            raise ValueError("give the workload's kind and name, or a label selector for its pods")
        return self


class Platform(_Model):
    process: ProcessPlatform | None = None
    docker: DockerPlatform | None = None
    compose: ComposePlatform | None = None
    kubernetes: KubernetesPlatform | None = None

    @model_validator(mode="after")
    def _one(self) -> Platform:
        self._exactly_one("process", "docker", "compose", "kubernetes")
        return self

    @property
    def kind(self) -> str:
        return ("process" if self.process else "docker" if self.docker else "compose" if self.compose else
                "kubernetes")


class Service(_Model):
    name: str = Field(pattern=SERVICE_NAME)
    url: str | None = Field(None, pattern=r"^https?://[^\s/]+", max_length=1024)
    """Where load and the HTTP probe go (the base URL)."""
    probe: Probe
    platform: Platform | None = None
    """How faults reach it; a service without one can be loaded and probed, never faulted."""

    @model_validator(mode="after")
    def _url(self) -> Service:
        if self.probe.http is not None and self.url is None:
            raise ValueError("an http probe needs the service's url")
        return self


class Receiver(_Model):
    listen: str = Field("127.0.0.1:0", pattern=r"^\[?[^\s\]]+\]?:\d{1,5}$")
    """host:port where gameday's webhook receiver listens: an address the team's Alertmanager reaches."""

    _port = field_validator("listen")(_port_in_range)
    secret: Secret
    """The bearer token the team's Alertmanager sends in its gameday webhook's http_config."""
    path_prefix: str = Field("", pattern=r"^(/[A-Za-z0-9_.-]+)*$")


SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


class KubernetesSafety(_Model):
    """How far a fault may reach on a cluster: which namespaces, and how many of a workload's pods at once."""

    namespaces: list[str] = Field(default_factory=list, max_length=64)
    """The only namespaces a fault may touch; a service in any other is refused before the drill."""
    max_pods: int = Field(1, ge=1, le=1000)
    """The most pods one fault may take down (a scale to zero takes all of a workload's)."""
    max_percent: float | None = Field(None, gt=0, le=100)
    """Or at most this share of the workload's pods, where it allows more than ``max_pods``."""
    monitoring_namespaces: list[str] = Field(default_factory=lambda: ["monitoring"], max_length=16)
    """Where the team's monitoring runs: never faulted unless ``allow_protected`` says so."""
    allow_protected: list[str] = Field(default_factory=list, max_length=16)
    """Namespaces otherwise refused (the cluster's own, ``kube-system`` and the like, and the monitoring's) that
    this file lets a fault reach all the same."""

    def namespace_problem(self, namespace: str) -> str | None:
        """Why a faultable service may not be in ``namespace``, naming the setting that would allow it; or None."""
        if namespace in self.allow_protected:
            return None
        if namespace in SYSTEM_NAMESPACES:
            return (f"{namespace!r} is the cluster's own: gameday faults none of it unless "
                    "safety.kubernetes.allow_protected names it")
        if namespace in self.monitoring_namespaces:
            return (f"{namespace!r} is where the monitoring runs (safety.kubernetes.monitoring_namespaces): gameday "
                    "never faults it unless safety.kubernetes.allow_protected names it")
        if namespace not in self.namespaces:
            allowed = ", ".join(self.namespaces) or "none"
            return (f"{namespace!r} is not in safety.kubernetes.namespaces (allowed: {allowed}): add it there to let "
                    "a fault reach it")
        return None


class Safety(_Model):
    allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"], max_length=64)
    """Networks that load, probes and the harness's reads may reach; nothing else is ever sent to."""
    faultable: list[str] = Field(default_factory=list, max_length=64)
    """The services a drill may fault (never Prometheus, Alertmanager or the harness)."""
    kubernetes: KubernetesSafety = Field(default_factory=KubernetesSafety)
    max_clock_skew: float = 2.0
    """The most Prometheus's clock may be off the harness's: past it, no drill (times derived from ``startsAt``
    would be off by as much)."""

    _skew = field_validator("max_clock_skew", mode="before")(_seconds)

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not a network such as 10.0.0.0/24 or 127.0.0.1/32") from None
        return value


class TargetFile(_Model):
    """``targets/NAME.yaml``."""

    name: str | None = Field(None, pattern=SERVICE_NAME)
    monitoring: Monitoring
    receiver: Receiver | None = None
    """Without one, pages can be proved only as routed or attempted."""
    pages: PageLevel | None = None
    """The level every drill on this target needs (a scenario may ask for its own); the highest offered when
    absent."""
    sli: str | None = Field(None, pattern=SERVICE_NAME)
    """The service the load and the SLI probe aim at (the first service when absent)."""
    services: list[Service] = Field(min_length=1, max_length=64)
    safety: Safety = Field(default_factory=Safety)

    @model_validator(mode="after")
    def _names(self) -> TargetFile:
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError("two services share a name")
        if self.sli is not None and self.sli not in names:
            raise ValueError(f"sli: {self.sli!r} is none of the services ({', '.join(names)})")
        for name in self.safety.faultable:
            if name not in names:
                raise ValueError(f"safety.faultable: {name!r} is none of the services ({', '.join(names)})")
        for s in self.services:
            k8s = s.platform.kubernetes if s.platform is not None else None
            if k8s is None or s.name not in self.safety.faultable:
                continue
            if problem := self.safety.kubernetes.namespace_problem(k8s.namespace):
                raise ValueError(f"services.{s.name}.platform.kubernetes.namespace: {problem}")
        if self.pages == "delivered" and self.receiver is None:
            raise ValueError("pages: delivered needs a receiver (where gameday's webhook listens)")
        return self

    @property
    def sli_service(self) -> Service:
        return next(s for s in self.services if s.name == (self.sli or self.services[0].name))

    def offered(self) -> tuple[str, ...]:
        """The page levels this target offers, weakest first: routed and attempted always (they read Alertmanager's
        API and counters), delivered with a receiver."""
        return LEVELS if self.receiver is not None else LEVELS[:2]
