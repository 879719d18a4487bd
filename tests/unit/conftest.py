"""The fast loop: a unit test starts no process. One that needs a process (Locust, promtool, a browser, a
runbook's shell, a watchdog) belongs in ``tests/integration``; this guard fails it here, saying so."""

from __future__ import annotations

import os
import subprocess

# matplotlib builds its font cache the first time it is used on a machine, asking fc-list for the fonts: done here,
# before any test runs and the guard below is on, so that a plot's test does not fail only on a fresh machine
import matplotlib.font_manager  # noqa: F401  (imported for its side effect)
import pytest


class StartsAProcess(AssertionError):
    pass


def _refuse(*args: object, **kwargs: object) -> None:
    raise StartsAProcess("a unit test starts no process: move this test to tests/integration")


@pytest.fixture(autouse=True)
def no_process(monkeypatch):
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _refuse)
    monkeypatch.setattr(os, "fork", _refuse)
    monkeypatch.setattr(os, "posix_spawn", _refuse)
    monkeypatch.setattr(os, "posix_spawnp", _refuse)
    yield
