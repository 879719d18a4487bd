"""The Compose stack as a gameday target: a pytest plugin (entry point ``pytest11``) for ``--target compose``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """The Compose target's own options, in gameday's group."""
    group = parser.getgroup("gameday", "game-day drills")
    group.addoption("--compose-project", default=None, metavar="NAME",
                    help="compose: the Compose project name (default $GAMEDAY_COMPOSE_PROJECT or gameday); two stacks "
                         "on one machine need two names")
    group.addoption("--compose-keep", action="store_true", default=False,
                    help="compose target: use the stack if it is already up, and leave it up at the end")


def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float,
                               worker: str | None = None) -> Any:
    if name != "compose":
        return None
    from gameday.compose.engine import default_project
    from gameday.compose.stack import ComposeConfig, ComposeStack

    rules, lab_config = config.getoption("gameday_rules"), config.getoption("lab_config")
    project = config.getoption("compose_project") or default_project()
    if worker is not None:  # each pytest-xdist worker brings up a stack of its own (--compose-keep is refused)
        project = f"{project}-{worker}"
    return ComposeStack(ComposeConfig(Path(config.rootpath), reports / ("compose" if worker is None
                                                                        else f"compose-{worker}"), time_scale,
                                      rules_dir=Path(rules).resolve() if rules else None,
                                      config_dir=Path(lab_config).resolve() if lab_config else None,
                                      keep=bool(config.getoption("compose_keep")),
                                      project=project))
