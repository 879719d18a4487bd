"""The pytest plugin as a user meets it: options, markers, one-line errors for bad scenarios.

The tests here start a process; the rest of them are in ``tests/unit/test_plugin.py``."""

from __future__ import annotations

import pytest


def test_harness_never_imports_gevent():
    import subprocess
    import sys

    code = "import sys, gameday.plugin, gameday.drill.runner, gameday.load.locust; print('gevent' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "Locust's gevent must stay out of the pytest process"


@pytest.mark.parametrize("option, why", [
    ("--shadow", "a trainee handles one incident at a time"),
    ("--compose-keep", "the workers would inject faults into the same stack at once")])
def test_what_cannot_run_in_parallel_is_refused_with_one_line(project, option, why):
    result = project.runpytest_subprocess("-n", "2", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option} with -n: {why}*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()

