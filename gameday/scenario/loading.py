"""Scenarios loaded: each file read and validated into a ``Scenario``, its runbook and locustfile found inside
the project, and the catalog of every scenario with the files that did not load beside them."""


from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gameday.core.errors import ConfigError, ScenarioError, printable
from gameday.scenario.files import read_yaml as read_config_yaml
from gameday.scenario.model import FAULT_KINDS, PRIORITIES, Scenario

MAX_FILE_BYTES = 256 * 1024


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


def read_yaml(path: Path, shown: str) -> Any:
    """A scenario file's YAML document, or ``ScenarioError`` naming the file and why, whatever its bytes."""
    return read_config_yaml(path, shown, ScenarioError, "a scenario", MAX_FILE_BYTES)


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
