"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytester"]

# Under ``pytest -n N`` (the README's test command runs three workers) tests run side by side, each drill on a lab
# of its own with ports of its own. Tests that share one thing run on one worker, one after the other: the Docker
# engine's stacks and image, or a module's lab that each worker would otherwise start again. Tests marked
# ``whole_machine`` are left out of that run and run after it, alone (``./run tests``).
SHARED = {"test_compose.py": "docker", "test_compose_drills.py": "docker", "test_chaos.py": "docker",
          "test_team_containers.py": "docker",
          "test_lab.py": "lab fixture", "test_verdict_outcomes.py": "fake-target fixture"}


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling, with the scopes above (its ``xdist_group`` marker is not read with this
    pytest: the group is added to a node id that pytest no longer takes from ``_nodeid``)."""
    if config.getoption("dist", "no") == "no":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED.get(Path(nodeid.split("::", 1)[0]).name, nodeid)

    return SharedFirst(config, log)


@pytest.fixture
def root() -> Path:
    return ROOT


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def pytester(pytester, monkeypatch):
    """In-process pytest runs leave out Hypothesis's pytest plugin, as the project's own runs do (``pyproject.toml``):
    a run that stops at a usage error would leave that plugin counting Hypothesis as still initialising, and every
    later property test in the session would warn."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    return pytester


DRILL_TEST = """
def test_drill(scenario, run_drill):
    run_drill(scenario)
"""


@pytest.fixture
def project(pytester, root):
    """For the plugin's tests: a project folder with the real runbooks and locustfiles, and a scenarios/ of its own."""
    for folder in ("runbooks", "locustfiles"):
        shutil.copytree(root / folder, pytester.path / folder)
    (pytester.path / "scenarios").mkdir()
    pytester.makepyfile(test_drills=DRILL_TEST)
    return pytester
