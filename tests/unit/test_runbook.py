"""A runbook's drilled mitigation: found by its markers, per target, run step by step as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.core.errors import ConfigError
from gameday.scenario.loading import load_scenario
from gameday.scenario.runbook import NotForTarget, mitigation_steps, sections
from tests.unit.test_scenario import GOOD, write

RUNBOOK = """\
# A runbook

Prose with a `curl` that is not a step.

<!-- gameday:mitigation restart lab -->
```bash
echo lab one
```
Some words between the steps.
```sh
echo lab two
```
```python
print("not a shell step")
```
<!-- /gameday:mitigation -->

<!-- gameday:mitigation restart compose -->
```bash
docker compose restart inference-gateway
```
<!-- /gameday:mitigation -->

<!-- gameday:mitigation everywhere -->
```bash
true
```
<!-- /gameday:mitigation -->
"""


def _state(pid: int) -> str:
    try:  # gone, or a zombie that nobody reaped yet (the init of a container may not)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_steps_are_the_shell_blocks_between_the_markers_per_target(tmp_path):
    path = tmp_path / "rb.md"
    path.write_text(RUNBOOK)
    assert set(sections(RUNBOOK)) == {"restart", "everywhere"}
    assert [s.command.strip() for s in mitigation_steps(path, "restart", "lab")] == ["echo lab one", "echo lab two"]
    assert [s.number for s in mitigation_steps(path, "restart", "lab")] == [1, 2]
    assert "docker compose" in mitigation_steps(path, "restart", "compose")[0].command
    assert mitigation_steps(path, "everywhere", "k8s")[0].command.strip() == "true", "unmarked: any target"
    with pytest.raises(NotForTarget, match="marked only for compose, lab, not for the k8s target"):
        mitigation_steps(path, "restart", "k8s")
    with pytest.raises(ValueError, match="no mitigation 'missing' marked in the runbook.*marked: everywhere, restart"):
        mitigation_steps(path, "missing")


@pytest.mark.parametrize("recovery, reason", [
    ("{mode: runbook, mttr_goal: 10m}", "mode runbook needs mitigation"),
    ("{mode: revert, mttr_goal: 10m, mitigation: restart-gateway}", "mitigation is for mode runbook"),
    ("{mode: runbook, mttr_goal: 10m, mitigation: no-such-thing}", "no mitigation 'no-such-thing' marked"),
])
def test_a_runbook_recovery_is_checked_when_the_scenario_loads(tmp_path, root, recovery, reason):
    text = GOOD.replace("recovery: {mode: auto, mttr_goal: 10m}", f"recovery: {recovery}")
    with pytest.raises(ConfigError, match="recovery") as err:
        load_scenario(write(tmp_path, text), root)
    assert reason in str(err.value)


def test_a_scenario_names_a_marked_mitigation(tmp_path, root):
    text = GOOD.replace("recovery: {mode: auto, mttr_goal: 10m}",
                        "recovery: {mode: runbook, mttr_goal: 10m, mitigation: restart-gateway}")
    assert load_scenario(write(tmp_path, text), root).recovery.mitigation == "restart-gateway"

