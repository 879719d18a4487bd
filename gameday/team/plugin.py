"""A team's target file as a gameday target: a pytest plugin (entry point ``pytest11``) that answers
``--target NAME`` when ``targets/NAME.yaml`` exists in the project (or ``--target`` names a ``.yaml`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def target_file(root: Path, name: str) -> Path | None:
    """The target file ``--target NAME`` means, or None when it names none (the lab, compose, a plugin's)."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    path = root / "targets" / f"{name}.yaml"
    return path if path.is_file() else None


def load_target_file(path: Path, shown: str | None = None) -> Any:
    """The target file, validated; one ``ConfigError`` line naming file (as ``shown``), field and reason when it is
    wrong."""
    from gameday.scenario.files import read_yaml, validated
    from gameday.team.model import TargetFile

    shown = str(path) if shown is None else shown
    return validated(read_yaml(path, shown, what="a target file"), TargetFile, shown)


def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float,
                               worker: str | None = None) -> Any:
    root = Path(config.rootpath)
    path = target_file(root, name)
    if path is None:
        return None
    from gameday.team.target import TeamTarget

    shown = str(path.relative_to(root)) if path.is_absolute() and path.is_relative_to(root) else str(path)
    return TeamTarget(load_target_file(path, shown), shown)
