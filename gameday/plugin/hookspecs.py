"""Hooks that plugins implement for gameday."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float,
                               worker: str | None) -> Any:
    """Return the target called ``name`` (not yet started), or None when this plugin has no such target.

    The object implements ``gameday.target.protocol.Target`` and is a context manager: gameday enters it on the
    first drill of the session and exits it at the end. ``reports`` is the session's reports folder.
    ``worker`` is the pytest-xdist worker this session is (``gw0``, ``gw1`` ...), None without ``-n``: each
    worker drills on a target of its own, so what a target keeps on disk or names must not collide with
    another worker's. A target the run did not create is refused under ``-n``.
    """
