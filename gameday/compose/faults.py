"""Faults on containers, through the Docker Engine API, always from outside the service's code.

- crash: SIGKILL to the container's main process from the host (``State.Pid``): the engine counts
  that as a crash and its restart policy answers (``docker kill`` would count as a deliberate stop);
- stop and start; pause and unpause (cgroup freezer: a hung service);
- CPU and memory stress: stress-ng in a sidecar container inside the service's cgroup
  (``cgroup_parent``) and pid namespace, removed on revert;
- packet loss: an nftables table in the service's network namespace, set from a sidecar that shares
  it (``network_mode=container:``) with NET_ADMIN, deleted on revert;
- network disconnect: the container leaves the stack's network, and rejoins it with its aliases.

Every sidecar carries the label ``io.gameday.fault`` so a leftover can be found; the ledger records
the container and what reverting takes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

from gameday.core.errors import HarnessError, InjectionError
from gameday.faults.base import Fault, wait_until
from gameday.faults.ledger import Ledger

SIDECAR_LABEL = "io.gameday.fault"
NFT_TABLE = "gameday_fault"


ENGINE_BACK_WITHIN = 30.0
"""Seconds a revert waits for a Docker engine that stopped answering (a restarting ``dockerd``) to come back."""


def engine_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the engine did not answer at all (a connection refused, reset or timed out)."""
    import requests

    import docker

    return isinstance(exc, (requests.ConnectionError, requests.Timeout)) or (
        isinstance(exc, docker.errors.DockerException) and not isinstance(exc, docker.errors.APIError)
        and "connection" in str(exc).lower())


@contextlib.contextmanager
def engine_refusal(fault: Fault, what: str) -> Any:
    """The engine refusing a call (``cannot pause container ...: unable to freeze``), or not answering at all (it
    restarted), is one line naming the fault and the engine, not a traceback: the drill is ERROR, and the revert
    still runs."""
    import docker

    try:
        yield
    except docker.errors.APIError as exc:
        raise InjectionError(f"{fault.describe()}: the Docker engine refused to {what} it: "
                             f"{' '.join(str(exc.explanation or exc).split())[:300]}") from None
    except Exception as exc:
        if not engine_gone(exc):
            raise
        raise InjectionError(f"{fault.describe()}: the Docker engine did not answer while the harness tried to "
                             f"{what} it ({type(exc).__name__}); is dockerd running? This says nothing about the "
                             "alert") from None


def exec_in(container: Any, argv: list[str], timeout: float = 10.0) -> tuple[int, str]:
    """Run ``argv`` in the container; its exit code and output. The engine can end an exec's output stream before
    it has recorded the exit (inspect then says ``Running`` with no ``ExitCode``): ask again until it has, rather
    than read a missing code as a failure."""
    api = container.client.api
    exec_id = api.exec_create(container.id, argv)["Id"]
    output = api.exec_start(exec_id)
    deadline = time.monotonic() + timeout
    while (info := api.exec_inspect(exec_id))["Running"] or info.get("ExitCode") is None:
        if time.monotonic() > deadline:
            raise InjectionError(f"{' '.join(argv)[:80]}: no exit code from the engine {timeout:g}s after its output "
                                 "ended")
        time.sleep(0.05)
    return int(info["ExitCode"]), (output or b"").decode(errors="replace")


def container_state(find: Any, service: str) -> dict[str, Any]:
    """The engine's ``State`` of the container ``find()`` gives, with its restart count and id; an engine that does
    not answer (it restarted or stopped) is one line, not a traceback."""
    try:
        c = find()
        c.reload()
    except Exception as exc:
        if engine_gone(exc):
            raise HarnessError(f"the Docker engine did not answer for the state of {service} "
                               f"({type(exc).__name__}): is dockerd running? This says nothing about the alert"
                               ) from None
        raise
    return dict(c.attrs["State"]) | {"RestartCount": c.attrs.get("RestartCount", 0), "Id": c.id}


class ContainerFault(Fault):
    """A fault on one service's container of the Compose stack; it outlives the harness, so a watchdog guards it."""

    outlives_harness = True
    reverter = "compose-container"

    def __init__(self, stack: Any, service: str, ledger: Ledger | None = None) -> None:
        super().__init__(service, ledger)
        self.stack = stack
        self.container = stack.container(service)

    def detail(self) -> dict[str, Any]:
        return {"container": self.container.id, "revert": self.revert_action}

    revert_action = ""

    def inject(self) -> float:
        with engine_refusal(self, "inject"):
            return super().inject()

    def revert(self) -> None:
        """Revert through the engine; one that stopped answering is waited for (``ENGINE_BACK_WITHIN``) before the
        revert is called failed, and then the watchdog still guards the fault."""
        deadline = time.monotonic() + ENGINE_BACK_WITHIN
        while True:
            try:
                with engine_refusal(self, "revert"):
                    super().revert()
                return
            except InjectionError as exc:
                if "did not answer" not in str(exc) or time.monotonic() > deadline:
                    if self.active and self._watchdog is not None:
                        raise InjectionError(f"{exc}; the fault is still in, and its watchdog reverts it once the "
                                             "engine answers again") from None
                    raise
                time.sleep(1.0)

    def _state(self) -> dict[str, Any]:
        return self.stack.state(self.target)


class CrashContainer(ContainerFault):
    """SIGKILL the container's main process from the host; the restart policy restarts it after its back-off."""

    kind = "kill-service"
    revert_action = "start the container if it is not running"

    def __init__(self, stack: Any, service: str, down_for: float | None = None, ledger: Ledger | None = None) -> None:
        super().__init__(stack, service, ledger)
        self.down_for = down_for
        self.restarts_before: int | None = None

    def _apply(self) -> None:
        st = self._state()
        if not st.get("Running") or not st.get("Pid"):
            raise InjectionError(f"kill-service {self.target}: the container is not running")
        if self.down_for is not None:  # the back-off of this one restart, read by the container's entrypoint
            code, _ = exec_in(self.container, ["sh", "-c", f"echo {self.down_for:.3f} > /run/gameday/restart-delay"])
            if code != 0:
                raise InjectionError(f"kill-service {self.target}: could not set the restart back-off")
        self.restarts_before = st["RestartCount"]
        try:
            os.kill(st["Pid"], signal.SIGKILL)
        except ProcessLookupError as exc:
            raise InjectionError(f"kill-service {self.target}: pid {st['Pid']} vanished before the kill") from exc
        except PermissionError:
            raise InjectionError(f"kill-service {self.target}: not allowed to signal the container's process (pid "
                                 f"{st['Pid']}): the harness runs as another user than the engine's") from None
        self._stamp()
        if not wait_until(lambda: self._state()["RestartCount"] > (self.restarts_before or 0)
                     or not self._state().get("Running"), 10):
            raise InjectionError(f"kill-service {self.target}: the container neither stopped nor restarted "
                                 "within 10s of SIGKILL")

    def _undo(self) -> None:
        if not self._state().get("Running"):
            self.container.start()


class StopContainer(ContainerFault):
    kind = "stop-service"
    revert_action = "start the container"

    def _apply(self) -> None:
        if not self._state().get("Running"):
            raise InjectionError(f"stop-service {self.target}: the container is not running")
        self._stamp()
        self.container.stop(timeout=2)
        if not wait_until(lambda: not self._state().get("Running"), 10):
            raise InjectionError(f"stop-service {self.target}: still running 10s after the stop")

    def _undo(self) -> None:
        self.container.start()
        if not wait_until(lambda: self._state().get("Running"), 15):
            raise InjectionError(f"stop-service {self.target}: did not start again within 15s of the revert")


class PauseContainer(ContainerFault):
    kind = "pause-service"
    revert_action = "unpause the container"

    def _apply(self) -> None:
        self.container.pause()
        self._stamp()
        if not self._state().get("Paused"):
            raise InjectionError(f"pause-service {self.target}: the engine does not report it paused")

    def _undo(self) -> None:
        if self._state().get("Paused"):
            self.container.unpause()
        if self._state().get("Paused"):
            raise InjectionError(f"pause-service {self.target}: still paused after unpause")


class DisconnectNetwork(ContainerFault):
    kind = "network-disconnect"
    revert_action = "connect the container to its network again with its aliases"

    def detail(self) -> dict[str, Any]:
        return super().detail() | {"network": self.stack.network(self.target).name, "aliases": self.aliases()}

    def aliases(self) -> list[str]:
        """The container's names on its network (a Compose service's name, and the ``project-service-1`` Compose
        gives it), which a reconnect must give back; the engine adds the short id by itself."""
        self.container.reload()
        net = (self.container.attrs["NetworkSettings"]["Networks"] or {}).get(
            self.stack.network(self.target).name) or {}
        short = self.container.id[:12]
        named = {a for a in net.get("Aliases") or [] if a != short}
        if service := (self.container.labels or {}).get("com.docker.compose.service"):
            named.add(service)
        return sorted(named)

    def _apply(self) -> None:
        self.network = self.stack.network(self.target)
        self._aliases = self.aliases()
        self.network.disconnect(self.container)
        self._stamp()
        if self.connected():
            raise InjectionError(f"network-disconnect {self.target}: still on {self.network.name}")

    def connected(self) -> bool:
        self.container.reload()
        return self.network.name in (self.container.attrs["NetworkSettings"]["Networks"] or {})

    def _undo(self) -> None:
        if not self.connected():
            self.network.connect(self.container, aliases=getattr(self, "_aliases", None) or None)
        if not self.connected():
            raise InjectionError(f"network-disconnect {self.target}: not back on {self.network.name}")


def revert_left(entry: dict[str, Any], client: Any = None) -> tuple[str, str]:
    """Revert a container fault that a dead run left open, from its ledger entry, and check it took effect.

    Returns the ledger state (``reverted`` or ``abandoned``) and a note saying what was done or why not.
    """
    import docker

    detail, kind = entry.get("detail") or {}, entry.get("kind")
    try:
        client = client or docker.from_env(timeout=30)
        try:
            container = client.containers.get(detail["container"])
        except docker.errors.NotFound:
            container = None
        if sidecar := detail.get("sidecar"):  # the one named at injection, and every later one of the fault
            names = {sidecar} | {c.name for c in client.containers.list(
                all=True, filters={"label": f"io.gameday.target={detail['container']}"})}
            for name in sorted(names):
                with contextlib.suppress(docker.errors.NotFound):
                    client.containers.get(name).remove(force=True)
            for name in sorted(names):
                with contextlib.suppress(docker.errors.NotFound):
                    client.containers.get(name)
                    return "abandoned", f"the sidecar {name} is still there after removing it"
        if container is None:
            return ("reverted", f"{kind}: the sidecar is gone and the container no longer exists") if sidecar else (
                "abandoned", f"{kind}: container {detail['container'][:12]} no longer exists; nothing to check")
        container.reload()
        state = container.attrs["State"]
        if kind == "pause-service" and state.get("Paused"):
            container.unpause()
        elif kind in ("kill-service", "stop-service") and not state.get("Running"):
            container.start()
        elif kind == "network-disconnect":
            network = client.networks.get(detail["network"])
            if network.name not in (container.attrs["NetworkSettings"]["Networks"] or {}):
                network.connect(container, aliases=detail.get("aliases") or None)
        elif kind == "packet-loss":
            side = client.containers.run(container.image.id, ["sleep", "60"], detach=True, entrypoint=[],
                                         network_mode=f"container:{container.id}", cap_add=["NET_ADMIN"],
                                         labels={SIDECAR_LABEL: "revert"})
            try:
                exec_in(side, ["sh", "-c", f"nft delete table inet {NFT_TABLE} 2>/dev/null || true"])
                if exec_in(side, ["nft", "list", "table", "inet", NFT_TABLE])[0] == 0:
                    return "abandoned", "packet-loss: the nftables table is still there after deleting it"
            finally:
                side.remove(force=True)
        container.reload()
        state = container.attrs["State"]
        if kind == "pause-service" and state.get("Paused"):
            return "abandoned", "pause-service: the container is still paused after unpause"
        if kind in ("kill-service", "stop-service") and not state.get("Running"):
            return "abandoned", f"{kind}: the container did not start again"
        if kind == "network-disconnect" and detail["network"] not in (
                container.attrs["NetworkSettings"]["Networks"] or {}):
            return "abandoned", "network-disconnect: the container is still off its network"
        return "reverted", f"{kind}: {detail.get('revert', 'reverted')}, checked"
    except Exception as exc:  # an engine that does not answer, a missing network ...  # noqa: BLE001
        return "abandoned", f"{kind}: could not revert: {type(exc).__name__}: {exc}"
