"""Scenarios as data: one YAML file each under ``scenarios/``, validated into a model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gameday.durations import parse_ms
from gameday.errors import ConfigError, ScenarioError

PRIORITIES = ("p0", "p1", "p2", "p3")


def _duration(value: Any) -> float:
    """Seconds from ``30s``/``2m`` strings or plain numbers of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s or 2m")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str):
        return parse_ms(value) / 1000
    raise ValueError("expected a duration such as 30s or 2m")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Load(_Model):
    locustfile: str = "locustfiles/baseline.py"
    users: int = Field(5, ge=1, le=200)
    spawn_rate: float = Field(5, gt=0, le=200)


class _FaultSpec(_Model):
    target: str
    """A service of the system under test."""
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


class LatencyFault(_FaultSpec):
    """Delay added to the service's outgoing packets (netem, where the kernel has it)."""

    kind: Literal["latency"]
    delay: float

    _delay = field_validator("delay", mode="before")(_duration)


class NetworkDisconnectFault(_FaultSpec):
    """The service cut off its network."""

    kind: Literal["network-disconnect"]


FaultSpec = Annotated[KillServiceFault | StopServiceFault | PauseServiceFault | CpuStressFault | MemoryStressFault
                      | PacketLossFault | LatencyFault | NetworkDisconnectFault, Field(discriminator="kind")]
FAULT_KINDS = ("kill-service", "stop-service", "pause-service", "cpu-stress", "memory-stress", "packet-loss",
               "latency", "network-disconnect")


class ExpectedAlert(_Model):
    alert: str
    receiver: str
    within: float
    """Detection SLA: from injection to the page at the receiver."""

    _dur = field_validator("within", mode="before")(_duration)


class Recovery(_Model):
    mode: Literal["auto", "revert"] = "revert"
    mttr_goal: float
    """From the page to the resolved notification."""

    _dur = field_validator("mttr_goal", mode="before")(_duration)


class Scenario(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    priority: Literal["p0", "p1", "p2", "p3"]
    runbook: str
    description: str = ""
    load: Load = Load()
    steady_state: float = 30.0
    fault: FaultSpec
    expect: list[ExpectedAlert] = Field(min_length=1)
    quiet: list[str] = []
    recovery: Recovery
    alert_group: Literal["new", "repeat"] = "new"
    """new: steady state waits until Alertmanager holds no group for the expected alerts, so the page
    is a first incident's; repeat: a flapping service, drilled while the last incident's group may
    linger, and held to the ceiling that includes the group's group_interval."""

    _dur = field_validator("steady_state", mode="before")(_duration)

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


def _field_path(loc: tuple[Any, ...], err_type: str = "") -> str:
    out = ""
    if len(loc) > 2 and loc[0] == "fault" and loc[1] in FAULT_KINDS:
        loc = (loc[0], *loc[2:])  # the union's tag is no field of the file
    if loc == ("fault",) and err_type in ("union_tag_invalid", "union_tag_not_found"):
        loc = ("fault", "kind")
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _reason(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "literal_error":
        return msg.replace("Input should be", "must be one of").replace("'", "")
    if err["type"] == "union_tag_invalid":
        return f"must be one of {', '.join(FAULT_KINDS)}"
    if err["type"] == "union_tag_not_found":
        return "missing: the fault's kind"
    return msg.removeprefix("Value error, ")


def load_scenario(path: Path, root: Path | None = None) -> Scenario:
    """Read and validate one scenario file; raise ``ConfigError`` naming file, field and reason."""
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ScenarioError(shown, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise ScenarioError(shown, "(file)", exc.strerror or str(exc)) from None
    if not isinstance(data, dict):
        raise ScenarioError(shown, "(top level)", "expected a mapping of fields")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ScenarioError(shown, _field_path(err["loc"], err["type"]), _reason(err)) from None
    if root is not None:
        for field, rel in (("runbook", scenario.runbook), ("load.locustfile", scenario.load.locustfile)):
            if not (root / rel).is_file():
                raise ScenarioError(shown, field, f"no such file: {rel}")
    if scenario.fault.kind == "stop-service" and scenario.recovery.mode == "auto":
        raise ScenarioError(shown, "recovery.mode", "a stopped service does not come back by itself; use revert")
    return scenario


@dataclass(frozen=True)
class CatalogEntry:
    """A scenario file, loaded or not: a bad file still becomes a test that reports its error."""

    path: Path
    scenario: Scenario | None
    error: ConfigError | None
    priority_hint: str | None

    @property
    def id(self) -> str:
        return self.scenario.id if self.scenario else self.path.stem

    def __repr__(self) -> str:  # shown as the test's parameter in reports
        return f"{self.id} ({self.path.parent.name}/{self.path.name})"


def load_catalog(directory: Path, root: Path | None = None) -> list[CatalogEntry]:
    """Every ``*.yaml``/``*.yml`` in ``directory``, sorted, each loaded or with its error."""
    entries = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            entries.append(CatalogEntry(path, load_scenario(path, root), None, None))
        except ConfigError as err:
            entries.append(CatalogEntry(path, None, err, _priority_hint(path)))
    return entries


def _priority_hint(path: Path) -> str | None:
    """The priority of a file that failed validation, when it can still be read."""
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError):
        return None
    value = data.get("priority") if isinstance(data, dict) else None
    return value if value in PRIORITIES else None
