"""Scenarios as data: one YAML file each under ``scenarios/``, validated into a model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gameday.core.durations import parse_ms

PRIORITIES = ("p0", "p1", "p2", "p3")
MAX_DURATION = 7 * 86_400.0
"""The longest duration a scenario may name: a week, in seconds."""
NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
"""A Prometheus alert name; receiver names follow the same shape here."""
PAGE_LEVELS = ("routed", "attempted", "delivered")
"""How far a page is proved, weakest first: routed (Alertmanager's API holds the alert active at the expected
receiver and its route tree agrees), attempted (its notification counters for that receiver moved and its failure
counters did not), delivered (the page reached gameday's own webhook receiver). Where gameday runs Alertmanager,
pages are delivered."""
PageLevel = Literal["routed", "attempted", "delivered"]


def _duration(value: Any) -> float:
    """Seconds from ``30s``/``2m`` strings or plain numbers of seconds: finite, positive, at most a week."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("expected a duration such as 30s or 2m")
    if isinstance(value, str):
        seconds = parse_ms(value) / 1000
    else:
        if not math.isfinite(value):
            raise ValueError("must be a finite duration such as 30s or 2m")
        seconds = float(value)
    if not seconds > 0:
        raise ValueError("must be longer than zero")
    if seconds > MAX_DURATION:
        raise ValueError("must be at most a week (7d)")
    return seconds


def _rate(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Load(_Model):
    locustfile: str = Field("locustfiles/baseline.py", max_length=512)
    users: int = Field(5, ge=1, le=200, strict=True)
    spawn_rate: float = Field(5, gt=0, le=200)
    workers: int = Field(0, ge=0, le=8, strict=True)
    """0: one Locust process; N: a Locust master and N worker processes (a load past one process's CPU)."""

    _rate = field_validator("spawn_rate", mode="before")(_rate)


class _FaultSpec(_Model):
    target: str = Field(max_length=128)
    """A service of the system under test."""
    skip_where_unsupported: bool = False
    """On a target that cannot do this kind of fault, SKIPPED with the reason instead of refused."""
    duration: float | None = None
    """kill-service: how long the service stays down before its restart; other kinds: the least time the
    fault holds before recovery may revert it."""

    _dur = field_validator("duration", mode="before")(lambda v: None if v is None else _duration(v))


class KillServiceFault(_FaultSpec):
    """The service's main process dies as in a crash (SIGKILL); its restart policy brings it back."""

    kind: Literal["kill-service"]


class StopServiceFault(_FaultSpec):
    """The service is stopped on purpose (a dependency outage); revert starts it."""

    kind: Literal["stop-service"]


class PauseServiceFault(_FaultSpec):
    """The service hangs: every process frozen (cgroup freezer); revert thaws it."""

    kind: Literal["pause-service"]


class CpuStressFault(_FaultSpec):
    """CPU stress inside the service's cgroup."""

    kind: Literal["cpu-stress"]
    workers: int = Field(1, ge=1, le=8, strict=True)
    load: int = Field(100, ge=1, le=100, strict=True)
    """Percent of each worker's core."""


class MemoryStressFault(_FaultSpec):
    """Memory held inside the service's cgroup."""

    kind: Literal["memory-stress"]
    megabytes: int = Field(256, ge=1, le=8192, strict=True)


class PacketLossFault(_FaultSpec):
    """A share of the service's outgoing packets dropped (nftables in its network namespace)."""

    kind: Literal["packet-loss"]
    percent: float = Field(gt=0, le=100)

    _rate = field_validator("percent", mode="before")(_rate)


class LatencyFault(_FaultSpec):
    """Delay added on the way to the service (a slow dependency): on the lab, by the link in front of the
    backend; on containers, netem on the service's packets where the kernel has it. Not time-scaled: a
    latency threshold is a property of the service, not of the pipeline's timers."""

    kind: Literal["latency"]
    delay: float

    @field_validator("delay", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> float:
        seconds = _duration(value)
        if seconds > 60:
            raise ValueError("must be at most 60s: a longer delay is an outage, drill it as one")
        return seconds


class RequestFailuresFault(_FaultSpec):
    """A sustained partial failure: that share of the requests to the service fail (on the lab, cut on the link
    in front of it; the caller answers them with 5xx), the rest are served as usual."""

    kind: Literal["request-failures"]
    percent: float = Field(gt=0, le=100)

    _rate = field_validator("percent", mode="before")(_rate)


class NetworkDisconnectFault(_FaultSpec):
    """The service cut off its network."""

    kind: Literal["network-disconnect"]


class TrafficSurgeFault(_FaultSpec):
    """More users than the service can serve: Locust ramps from the scenario's load to ``users`` (at
    ``spawn_rate`` a second) and back on revert. Load-side, so every target can do it; ``target`` is the
    service the load is aimed at."""

    kind: Literal["traffic-surge"]
    users: int = Field(ge=2, le=200, strict=True)
    spawn_rate: float = Field(20, gt=0, le=200)

    _rate = field_validator("spawn_rate", mode="before")(_rate)


class PodDeleteFault(_FaultSpec):
    """Some of a Kubernetes workload's pods deleted: ``count`` of them (default 1) or ``percent`` of them (rounded
    up), with a grace period of ``grace_period`` seconds (0: the pod is killed, not drained)."""

    kind: Literal["pod-delete"]
    count: int | None = Field(None, ge=1, le=100, strict=True)
    percent: float | None = Field(None, gt=0, le=100)
    grace_period: int = Field(0, ge=0, le=300, strict=True)

    _rate = field_validator("percent", mode="before")(_rate)

    @model_validator(mode="before")
    @classmethod
    def _one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if data.get("count") is not None and data.get("percent") is not None:
                raise ValueError("give count or percent, not both")
            if data.get("count") is None and data.get("percent") is None:
                data = {**data, "count": 1}  # one pod when neither is given
        return data


class BadRolloutFault(_FaultSpec):
    """A Kubernetes Deployment rolled out to a pod template whose command cannot start; undone on revert."""

    kind: Literal["bad-rollout"]


class NodeDrainFault(_FaultSpec):
    """The Kubernetes node of the service's pod cordoned and drained of the run's pods; uncordoned on revert."""

    kind: Literal["node-drain"]


FaultSpec = Annotated[KillServiceFault | StopServiceFault | PauseServiceFault | CpuStressFault | MemoryStressFault
                      | PacketLossFault | LatencyFault | RequestFailuresFault | NetworkDisconnectFault
                      | TrafficSurgeFault | PodDeleteFault | BadRolloutFault | NodeDrainFault,
                      Field(discriminator="kind")]
FAULT_KINDS = ("kill-service", "stop-service", "pause-service", "cpu-stress", "memory-stress", "packet-loss",
               "latency", "request-failures", "network-disconnect", "traffic-surge", "pod-delete", "bad-rollout",
               "node-drain")
LOAD_FAULT_KINDS = ("traffic-surge",)
"""Kinds the harness applies through its own load, not through the target: every target can do them."""


class ExpectedAlert(_Model):
    alert: str = Field(pattern=NAME, max_length=200)
    receiver: str = Field(max_length=200)
    within: float
    """Detection SLA: from injection to the page at the receiver."""
    resolve: bool = True
    """Wait for this alert's resolved notification within the MTTR goal; false for an alert whose long window
    keeps it open well past the mitigation (a budget ticket), whose resolution is then not part of the drill."""

    _dur = field_validator("within", mode="before")(_duration)


class StopCondition(_Model):
    """When this holds during a drill, the fault is reverted at once and the drill is ABORTED.

    ``expr``: a PromQL expression that holds when it returns anything (e.g. an error ratio beyond the
    drill's blast radius); ``alert``: an alert that must not fire (e.g. one of a service outside the drill).
    """

    expr: str | None = Field(None, min_length=1, max_length=2000)
    alert: str | None = Field(None, pattern=NAME, max_length=200)
    description: str = Field("", max_length=300)

    @model_validator(mode="after")
    def _one(self) -> StopCondition:
        if (self.expr is None) == (self.alert is None):
            raise ValueError("give exactly one of expr or alert")
        return self

    @field_validator("expr")
    @classmethod
    def _promql(cls, value: str | None) -> str | None:
        if value is not None:
            import promql_parser

            try:
                promql_parser.parse(value)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"not a PromQL expression: {' '.join(str(exc).split())[:200]}") from None
        return value

    def describe(self) -> str:
        what = f"alert {self.alert} firing" if self.alert else f"{self.expr}"
        return f"{self.description} ({what})" if self.description else what


class Recovery(_Model):
    mode: Literal["auto", "revert", "runbook"] = "revert"
    """auto: the platform heals itself; revert: the harness reverts the fault after its duration; runbook: the
    harness runs the runbook's marked mitigation (``gameday.scenario.runbook``) and the fault stays until it is
    judged."""
    mttr_goal: float
    """From the page to the resolved notification."""
    mitigation: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    """With ``mode: runbook``: the name of the marked mitigation section in the scenario's runbook."""

    _dur = field_validator("mttr_goal", mode="before")(_duration)

    @model_validator(mode="after")
    def _named(self) -> Recovery:
        if self.mode == "runbook" and self.mitigation is None:
            raise ValueError("mode runbook needs mitigation: the name of the runbook's marked mitigation")
        if self.mode != "runbook" and self.mitigation is not None:
            raise ValueError("mitigation is for mode runbook")
        return self


class Scenario(_Model):
    draft: bool = False
    """Written by ``gameday target new`` from a live stack's rule: valid, but its fault is not named yet, so its drill
    is SKIPPED and ``gameday check`` does not count it as drilled, until a person names it and deletes the line."""
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    title: str = Field(max_length=200)
    priority: Literal["p0", "p1", "p2", "p3"]
    runbook: str = Field(max_length=512)
    description: str = Field("", max_length=4000)
    load: Load = Load()
    steady_state: float = 30.0
    fault: FaultSpec
    expect: list[ExpectedAlert] = Field(min_length=1, max_length=20)
    quiet: list[Annotated[str, Field(pattern=NAME, max_length=200)]] = Field([], max_length=50)
    recovery: Recovery
    abort_when: list[StopCondition] = Field([], max_length=10)
    """Stop conditions: any of them holding during the drill reverts the fault at once (ABORTED)."""
    pages: PageLevel | None = None
    """The least a drill of it must prove of its pages (``PAGE_LEVELS``): a target that proves less refuses it in
    preflight, naming the setting that would prove more; one that proves more satisfies it."""
    alert_group: Literal["new", "repeat"] = "new"
    """new: steady state waits until Alertmanager holds no group for the expected alerts, so the page
    is a first incident's; repeat: a flapping service, drilled while the last incident's group may
    linger, and held to the ceiling that includes the group's group_interval."""

    _dur = field_validator("steady_state", mode="before")(_duration)

    def length_bound(self) -> float:
        """How long a drill of it may take, roughly (seconds, unscaled): its steady state, then its longest SLA
        or fault hold. What orders a run's drills, longest first."""
        return self.steady_state + max(self.fault.duration or 0.0, *(e.within for e in self.expect))

    def scaled(self, factor: float) -> ScaledTimes:
        """The scenario's goals on the time-scaled clock."""
        return ScaledTimes(
            factor=factor,
            steady_state=self.steady_state / factor,
            sla={e.alert: e.within / factor for e in self.expect},
            mttr_goal=self.recovery.mttr_goal / factor,
            fault_duration=None if self.fault.duration is None else self.fault.duration / factor,
        )


@dataclass(frozen=True)
class ScaledTimes:
    factor: float
    steady_state: float
    sla: dict[str, float]
    mttr_goal: float
    fault_duration: float | None
