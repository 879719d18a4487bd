"""The ``docker`` and ``compose`` platforms: a team's service that is a container on the local Docker engine, found
by its name, by a label, or as a service of a Compose project that is already up; and the container faults that
reach it (``gameday.compose.faults``), through the engine's API.

gameday never starts, builds or removes a team's container: a fault stops, kills, pauses or disconnects the one
container the file names, and its revert (the watchdog's and ``gameday revert``'s too) puts that container back.
Whatever the file says, a container must be found exactly once, and a fault's own sidecar (label
``io.gameday.fault``) is never taken for the service.
"""

from __future__ import annotations

import time
from typing import Any

from gameday.compose.faults import SIDECAR_LABEL, container_state
from gameday.compose.stack import MADE_BY_COMPOSE
from gameday.core.clock import parse_rfc3339
from gameday.core.errors import HarnessError, InjectionError
from gameday.team.model import Platform

CONTAINER_KINDS = ("kill-service", "stop-service", "pause-service", "network-disconnect")
"""The fault kinds a team's container takes."""

NOT_ON_CONTAINER = {
    "cpu-stress": "stress on a team's container is not offered: its sidecar would run the container's own image, "
                  "which need not have stress-ng",
    "memory-stress": "memory stress on a team's container is not offered: its sidecar would run the container's own "
                     "image, which need not have stress-ng",
    "packet-loss": "packet loss on a team's container is not offered: its sidecar would run the container's own "
                   "image, which need not have nft",
    "latency": "latency on a team's container is not offered: gameday puts no relay or qdisc on a team's links",
    "request-failures": "request failures on a team's container are not offered: there is no relay in front of it",
}


class TeamContainers:
    """What a container fault needs of a stack (``container``, ``state``, ``network``), for the services of a
    target file on the ``docker`` or ``compose`` platform."""

    def __init__(self, platforms: dict[str, Platform], shown: str) -> None:
        self.platforms, self.shown = platforms, shown
        self._engine: Any = None

    @property
    def _client(self) -> Any:
        if self._engine is None:
            from gameday.compose.engine import engine

            self._engine = engine()
        return self._engine

    def describe(self, service: str) -> str:
        p = self.platforms[service]
        if p.docker is not None:
            return (f"container {p.docker.container}" if p.docker.container else
                    f"the container labelled {p.docker.label}")
        assert p.compose is not None
        return f"service {p.compose.service} of Compose project {p.compose.project}"

    def _field(self, service: str) -> str:
        p = self.platforms[service]
        return f"{self.shown}: services.{service}.platform.{p.kind}"

    def container(self, service: str) -> Any:
        """The one container the file names; none, or more than one, is one line naming the field."""
        import docker

        p = self.platforms[service]
        client = self._client
        if p.docker is not None and p.docker.container is not None:
            try:
                found = [client.containers.get(p.docker.container)]
            except docker.errors.NotFound:
                found = []
        else:
            labels = ([p.docker.label] if p.docker is not None else
                      [f"com.docker.compose.project={p.compose.project}",
                       f"com.docker.compose.service={p.compose.service}", MADE_BY_COMPOSE])
            found = client.containers.list(all=True, filters={"label": labels})
        found = [c for c in found if SIDECAR_LABEL not in (c.labels or {})]
        if len(found) != 1:
            names = ", ".join(sorted(c.name for c in found)[:5])
            raise HarnessError(f"{self._field(service)}: {len(found)} containers are {self.describe(service)}"
                               + (f" ({names})" if names else "") + ": it must name exactly one")
        return found[0]

    def state(self, service: str) -> dict[str, Any]:
        return container_state(lambda: self.container(service), service)

    def network(self, service: str | None = None) -> Any:
        """The container's network: it must be on exactly one, which a disconnect takes it off."""
        if service is None:
            raise HarnessError("a team's containers have no network of the stack's own: name the service")
        c = self.container(service)
        c.reload()
        nets = sorted(c.attrs["NetworkSettings"]["Networks"] or {})
        if len(nets) != 1:
            raise InjectionError(f"network-disconnect {service}: {self.describe(service)} is on {len(nets)} "
                                 f"networks ({', '.join(nets) or 'none'}): it must be on exactly one")
        return self._client.networks.get(nets[0])

    def is_running(self, service: str) -> bool:
        try:
            st = self.state(service)
        except HarnessError:
            return False
        return bool(st.get("Running")) and not st.get("Paused")

    def last_started(self, service: str) -> float | None:
        """When the container last started (the engine's ``StartedAt``), on ``time.monotonic()``'s clock."""
        try:
            st = self.state(service)
        except HarnessError:
            return None
        if not st.get("Running") or not st.get("StartedAt"):
            return None
        return time.monotonic() - (time.time() - parse_rfc3339(st["StartedAt"]))
