"""The lab on the local Kubernetes cluster as a gameday target: a pytest plugin (entry point ``pytest11``) for
``--target k8s``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float,
                               worker: str | None = None) -> Any:
    if name != "k8s":
        return None
    from gameday.k8s.stack import K8sConfig, K8sStack

    rules, lab_config = config.getoption("gameday_rules"), config.getoption("lab_config")
    # one local cluster per machine: under -n a second worker's start is refused in one line (the cluster's lock)
    return K8sStack(K8sConfig(Path(config.rootpath), reports / ("k8s" if worker is None else f"k8s-{worker}"),
                              time_scale, rules_dir=Path(rules).resolve() if rules else None,
                              config_dir=Path(lab_config).resolve() if lab_config else None))
