"""A runbook's drilled mitigation: found by its markers, per target, run step by step as written.

The tests here start a process; the rest of them are in ``tests/unit/test_runbook.py``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gameday.scenario.runbook import mitigation_steps, run_steps
from tests.unit.test_runbook import _state


def test_steps_run_in_order_until_one_fails_with_only_the_targets_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_SECRET", "hunter2")
    path = tmp_path / "rb.md"
    path.write_text("<!-- gameday:mitigation m -->\n```bash\necho \"$GATEWAY ${HARNESS_SECRET:-none}\"\n```\n"
                    "```bash\nfalse | true\necho not reached: pipefail\n```\n```bash\necho never\n```\n"
                    "<!-- /gameday:mitigation -->\n")
    seen = []
    results = run_steps(mitigation_steps(path, "m"), {"GATEWAY": "http://127.0.0.1:1"}, tmp_path, 5, seen.append)
    assert [r.step.number for r in results] == [1, 2] and seen == results, "the third step never runs"
    assert results[0].ok and results[0].output == "http://127.0.0.1:1 none", "no harness variable leaks in"
    assert results[1].exit_code == 1 and "not reached" not in results[1].output, "bash -eo pipefail"


def test_a_step_past_its_time_is_killed_with_its_children(tmp_path):
    path = tmp_path / "rb.md"
    marker = tmp_path / "child.pid"
    path.write_text(f"<!-- gameday:mitigation m -->\n```bash\nsleep 30 & echo $! > {marker}\nwait\n```\n"
                    "<!-- /gameday:mitigation -->\n")
    began = time.monotonic()
    (result,) = run_steps(mitigation_steps(path, "m"), {}, tmp_path, 0.5)
    assert result.exit_code is None and "killed after 0.5s" in result.output
    assert time.monotonic() - began < 5

    pid = int(marker.read_text())
    time.sleep(0.2)
    try:  # gone, or a zombie that nobody reaped yet (the init of a container may not)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z"), f"the step's background child is still {state}"


@pytest.mark.parametrize("launch", ["sleep 100000 &", "setsid sleep 100000 &", "(setsid sleep 100000 &) &"])
def test_a_step_that_succeeds_is_done_at_its_exit_and_leaves_nothing_running(tmp_path, launch):
    """A background job once held the step's output pipe, so a step that had succeeded FAILed 'did not finish in
    time'; one started with setsid escaped the step's group and was left running after a PASS."""
    path = tmp_path / "rb.md"
    marker = tmp_path / "bg.pid"
    path.write_text(f"<!-- gameday:mitigation m -->\n```bash\n{launch}\nsleep 0.2\n"
                    f"pgrep -n -f 'sleep 100000' > {marker}\necho mitigated\n```\n<!-- /gameday:mitigation -->\n")
    began = time.monotonic()
    (result,) = run_steps(mitigation_steps(path, "m"), {}, tmp_path, 20)
    assert result.ok and result.exit_code == 0, result.output
    assert time.monotonic() - began < 8, "the step is judged by its exit, not by who holds its output"
    assert "mitigated" in result.output and "ended 1 process(es) the step left running" in result.output
    time.sleep(0.2)
    assert _state(int(marker.read_text())) in ("gone", "Z"), "the background job outlived its step"

