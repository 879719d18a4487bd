"""The embedded lab as a gameday target: a pytest plugin (entry point ``pytest11``) for ``--target lab``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float) -> Any:
    if name != "lab":
        return None
    from gameday.lab.stack import Lab, LabConfig

    rules, lab_config = config.getoption("gameday_rules"), config.getoption("lab_config")
    return Lab(LabConfig(Path(config.rootpath), reports / "lab", time_scale,
                         rules_dir=Path(rules).resolve() if rules else None,
                         config_dir=Path(lab_config).resolve() if lab_config else None))
