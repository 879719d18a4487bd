"""The fast loop: a unit test starts no process. One that needs a process (Locust, promtool, a browser, a
runbook's shell, a watchdog) belongs in ``tests/integration``; this guard fails it here, saying so."""

from __future__ import annotations

import os
import subprocess

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
