from __future__ import annotations

import textwrap

import pytest

from gameday.core.errors import ConfigError
from gameday.scenario.loading import load_catalog, load_scenario

GOOD = """\
id: demo
title: Demo drill
priority: p1
runbook: runbooks/003-service-down.md
fault: {kind: kill-service, target: inference-gateway, duration: 75s}
expect:
  - {alert: ServiceDown, receiver: pager, within: 1m}
quiet: [HighErrorRate]
recovery: {mode: auto, mttr_goal: 10m}
"""


def write(tmp_path, text, name="demo.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_project_catalog_is_valid(root):
    entries = load_catalog(root / "scenarios", root)
    assert {e.id for e in entries} >= {"service-outage", "high-error-rate"}
    assert all(e.error is None for e in entries), [str(e.error) for e in entries if e.error]
    assert {e.scenario.priority for e in entries if e.id in ("service-outage", "high-error-rate")} == {"p0"}


def test_good_file_loads_with_durations_in_seconds(tmp_path, root):
    sc = load_scenario(write(tmp_path, GOOD), root)
    assert sc.expect[0].within == 60 and sc.recovery.mttr_goal == 600 and sc.fault.duration == 75
    scaled = sc.scaled(60)
    assert scaled.sla == {"ServiceDown": 1.0} and scaled.mttr_goal == 10.0 and scaled.fault_duration == 1.25


@pytest.mark.parametrize("change, field, reason", [
    (("priority: p1", "priority: p7"), "priority", "must be one of p0, p1, p2 or p3"),
    (("within: 1m", "within: soon"), "expect[0].within", "not a duration"),
    (("kind: kill-service", "kind: meteor"), "fault.kind", "must be one of"),
    (("quiet: [HighErrorRate]", "quiet: [HighErrorRate]\ncolour: red"), "colour", "unknown field"),
    (("id: demo", "id: Demo Drill"), "id", "should match pattern"),
    (("runbook: runbooks/003-service-down.md", "runbook: runbooks/nope.md"), "runbook", "no such file"),
    (("kind: kill-service", "kind: stop-service"), "recovery.mode", "does not come back by itself"),
    (("expect:\n  - {alert: ServiceDown, receiver: pager, within: 1m}", "expect: []"), "expect", "at least 1"),
])
def test_bad_field_names_file_field_and_reason(tmp_path, root, change, field, reason):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_scenario(path, root)
    assert err.value.field == field
    assert reason in err.value.reason
    line = str(err.value)
    assert line.startswith(f"{path}: {field}: ") and "\n" not in line


def test_invalid_yaml_names_the_line(tmp_path, root):
    path = write(tmp_path, "id: x\ntitle: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        load_scenario(path, root)


def test_missing_required_field(tmp_path, root):
    path = write(tmp_path, GOOD.replace("title: Demo drill\n", ""))
    with pytest.raises(ConfigError, match="title: Field required"):
        load_scenario(path, root)


def test_catalog_keeps_bad_files_with_their_error_and_priority(tmp_path, root):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("within: 1m", "within: never"), "b.yaml")
    write(tmp_path, ": : :", "c.yaml")
    entries = load_catalog(tmp_path, root)
    assert [e.id for e in entries] == ["demo", "INVALID-b", "INVALID-c"]
    assert entries[0].error is None
    assert entries[1].error is not None and entries[1].priority_hint == "p1"
    assert entries[2].error is not None and entries[2].priority_hint is None


@pytest.mark.parametrize("extra, field, reason", [
    ("abort_when:\n  - {expr: up == 0, alert: ServiceDown}\n", "abort_when[0]", "exactly one of expr or alert"),
    ("abort_when:\n  - {description: nothing}\n", "abort_when[0]", "exactly one of expr or alert"),
    ("abort_when:\n  - {alert: ServiceDown}\n", "abort_when[0].alert", "the alert this drill expects"),
    ("abort_when:\n  - {expr: 'sum(rate(x[5m]'}\n", "abort_when[0].expr", "not a PromQL expression"),
])
def test_stop_conditions_are_checked(tmp_path, root, extra, field, reason):
    with pytest.raises(ConfigError) as err:
        load_scenario(write(tmp_path, GOOD + extra), root)
    assert err.value.field == field and reason in err.value.reason


def test_a_stop_condition_loads(tmp_path, root):
    sc = load_scenario(write(tmp_path, GOOD + "abort_when:\n  - {alert: HighErrorRate, description: blast}\n"), root)
    assert sc.abort_when[0].describe() == "blast (alert HighErrorRate firing)"
