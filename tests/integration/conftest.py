"""Integration tests run real Prometheus, Alertmanager, Locust and lab services on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.lab)


@dataclass
class GamedayRun:
    proc: subprocess.CompletedProcess[str]
    reports: Path
    allure: Path

    @property
    def out(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def journals(self) -> dict[str, dict]:
        out = {}
        for path in sorted((self.reports / "drills").glob("*.json")):
            data = json.loads(path.read_text())
            out[data["scenario"]] = data
        return out

    def allure_results(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in self.allure.glob("*-result.json")]


def gameday_argv(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", str(ROOT / "gamedays"), "--rootdir", str(ROOT),
            "-c", str(ROOT / "pyproject.toml"), "--reports", str(tmp_path / "reports"),
            "--alluredir", str(tmp_path / "allure"), "-p", "no:cacheprovider", *args]


def gameday_env() -> dict[str, str]:
    return {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def run_gameday(tmp_path):
    """Run ``pytest gamedays/`` as a user would, in its own process, with its own reports folder."""

    def run(*args: str, timeout: float = 300) -> GamedayRun:
        proc = subprocess.run(gameday_argv(tmp_path, *args), cwd=tmp_path, env=gameday_env(), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return GamedayRun(proc, tmp_path / "reports", tmp_path / "allure")

    return run
