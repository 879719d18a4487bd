"""The lab as a worker of ``gameday mutate`` (``-p gameday.lab.mutation`` beside ``gameday.mutate.session``): a
lab with Prometheus's admin API on, which makes its alerting fresh before each drill (``gameday.lab.reload``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float,
                               worker: str | None = None) -> Any:
    """The lab, with Prometheus's admin API on: fresh alerting before each drill deletes series through it."""
    if name != "lab" or not config.getoption("mutants", None):
        return None
    from gameday.lab.target import pytest_gameday_make_target as make_lab

    lab = make_lab(config, name, reports, time_scale, worker)
    lab.config.admin_api = True
    return lab
