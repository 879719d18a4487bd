"""Scenarios as data: one YAML file each under ``scenarios/``, validated into a model."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gameday.core.durations import parse_ms
from gameday.core.errors import ConfigError, ScenarioError, printable

PRIORITIES = ("p0", "p1", "p2", "p3")
MAX_DURATION = 7 * 86_400.0
"""The longest duration a scenario may name: a week, in seconds."""
MAX_FILE_BYTES = 256 * 1024
NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
"""A Prometheus alert name; receiver names follow the same shape here."""


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


FaultSpec = Annotated[KillServiceFault | StopServiceFault | PauseServiceFault | CpuStressFault | MemoryStressFault
                      | PacketLossFault | LatencyFault | RequestFailuresFault | NetworkDisconnectFault
                      | TrafficSurgeFault,
                      Field(discriminator="kind")]
FAULT_KINDS = ("kill-service", "stop-service", "pause-service", "cpu-stress", "memory-stress", "packet-loss",
               "latency", "request-failures", "network-disconnect", "traffic-surge")
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


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "a key that is not a plain value",
                                                        key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {printable(key, 60)!r}",
                                                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


# Plain numbers as YAML 1.2 reads them: no base-60 (``1:30`` stays text, not 90), no ``0b``/``0o``-less octal.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"),
                                    list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
               r"|\.(?:nan|NaN|NAN))$"), list("-+.0123456789"))


def read_yaml(path: Path, shown: str) -> Any:
    """The YAML document in ``path``, or ``ScenarioError`` naming the file and why, whatever its bytes."""
    from gameday.scenario.inputs import read_text_bounded

    try:
        text = read_text_bounded(path, MAX_FILE_BYTES, "a scenario")
    except OSError as exc:
        raise ScenarioError(shown, "(file)", exc.strerror or type(exc).__name__) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ScenarioError(shown, where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise ScenarioError(shown, "(file)", "nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a tag such as !!float on a value it does not fit
        raise ScenarioError(shown, "(file)", f"not valid YAML: {type(exc).__name__}: {exc}") from None


def _inside(root: Path, rel: str) -> bool:
    try:
        return (root / rel).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError):
        return False


def load_scenario(path: Path, root: Path | None = None) -> Scenario:
    """Read and validate one scenario file; raise ``ConfigError`` naming file, field and reason."""
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    data = read_yaml(path, shown)
    if not isinstance(data, dict):
        raise ScenarioError(shown, "(top level)", "expected a mapping of fields")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ScenarioError(shown, _field_path(err["loc"], err["type"]), _reason(err)) from None
    except RecursionError:
        raise ScenarioError(shown, "(file)", "nested too deeply") from None
    if root is not None:
        for field, rel in (("runbook", scenario.runbook), ("load.locustfile", scenario.load.locustfile)):
            if "\0" in rel or not _inside(root, rel):
                raise ScenarioError(shown, field, f"{rel!r} is outside the project ({root})")
            try:
                found = (root / rel).is_file()
            except (OSError, ValueError):
                found = False
            if not found:
                raise ScenarioError(shown, field, f"no such file: {rel}")
        if scenario.recovery.mitigation is not None:
            from gameday.scenario.runbook import mitigation_steps

            try:
                mitigation_steps(root / scenario.runbook, scenario.recovery.mitigation)
            except ValueError as exc:
                raise ScenarioError(shown, "recovery.mitigation", f"{scenario.runbook}: {exc}") from None
    expected = {e.alert for e in scenario.expect}
    for i, cond in enumerate(scenario.abort_when):
        if cond.alert in expected:
            raise ScenarioError(shown, f"abort_when[{i}].alert", f"{cond.alert} is the alert this drill expects")
    if scenario.fault.kind == "traffic-surge" and scenario.fault.users <= scenario.load.users:
        raise ScenarioError(shown, "fault.users", f"{scenario.fault.users} is not a surge over the load's "
                                                  f"{scenario.load.users} users: give more")
    if scenario.fault.kind == "traffic-surge" and scenario.recovery.mode == "auto":
        raise ScenarioError(shown, "recovery.mode", "a surge does not end by itself here; use revert")
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
        """The test id: the scenario's id, or ``INVALID-<file name>`` (printable, bounded) for a bad file."""
        return self.scenario.id if self.scenario else f"INVALID-{printable(self.path.stem, 60)}"

    def __repr__(self) -> str:  # shown as the test's parameter in reports
        return f"{self.id} ({self.path.parent.name}/{self.path.name})"


def load_catalog(directory: Path, root: Path | None = None) -> list[CatalogEntry]:
    """Every ``*.yaml``/``*.yml`` in ``directory``, sorted, each loaded or with its error."""
    entries: list[CatalogEntry] = []
    seen: dict[str, Path] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            scenario = load_scenario(path, root)
        except ConfigError as err:
            entries.append(CatalogEntry(path, None, err, _priority_hint(path)))
            continue
        except Exception as exc:  # never one file's surprise for the whole catalog  # noqa: BLE001
            err = ScenarioError(str(path), "(file)", f"unreadable: {type(exc).__name__}: {exc}")
            entries.append(CatalogEntry(path, None, err, None))
            continue
        if scenario.id in seen:
            err = ScenarioError(str(path.relative_to(root) if root and path.is_relative_to(root) else path), "id",
                                f"{scenario.id!r} is already the id of {seen[scenario.id].name}")
            entries.append(CatalogEntry(path, None, err, scenario.priority))
            continue
        seen[scenario.id] = path
        entries.append(CatalogEntry(path, scenario, None, None))
    return entries


def _priority_hint(path: Path) -> str | None:
    """The priority of a file that failed validation, when it can still be read."""
    try:
        data = read_yaml(path, str(path))
    except ConfigError:
        return None
    value = data.get("priority") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value in PRIORITIES else None
