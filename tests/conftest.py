"""Shared helpers for the harness's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytester"]


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
