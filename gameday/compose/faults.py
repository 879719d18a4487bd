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

from gameday.core.errors import InjectionError
from gameday.faults.base import Fault
from gameday.faults.ledger import Ledger
from gameday.target.protocol import FaultKinds

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


def _wait(pred: Any, timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(poll)
    return bool(pred())


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
        self._stamp()
        if not _wait(lambda: self._state()["RestartCount"] > (self.restarts_before or 0)
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
        if not _wait(lambda: not self._state().get("Running"), 10):
            raise InjectionError(f"stop-service {self.target}: still running 10s after the stop")

    def _undo(self) -> None:
        self.container.start()
        if not _wait(lambda: self._state().get("Running"), 15):
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


class SidecarFault(ContainerFault):
    """A fault run by a labelled sidecar container that shares part of the service's container."""

    revert_action = "remove the sidecar container"

    def __init__(self, stack: Any, service: str, ledger: Ledger | None = None) -> None:
        super().__init__(stack, service, ledger)
        self.sidecar: Any = None
        self._sidecars = 0
        self.sidecar_name = self._next_name()

    def _next_name(self) -> str:
        """A new name for each sidecar: one that is still being removed must never meet its successor (the
        engine refuses to start a container of a name that is marked for removal)."""
        self._sidecars += 1
        return f"gameday-fault-{self.kind}-{self.target}-{os.getpid()}-{self._sidecars}"

    def detail(self) -> dict[str, Any]:
        return super().detail() | {"sidecar": self.sidecar_name}

    def _run_sidecar(self, command: list[str], **kwargs: Any) -> Any:
        import docker

        image = self.container.image.id
        self._remove_sidecar()
        self.sidecar_name = self._next_name()
        try:
            return self.stack._client.containers.run(image, command, name=self.sidecar_name, detach=True,
                                                     labels={SIDECAR_LABEL: self.kind, "io.gameday.target":
                                                             self.container.id}, entrypoint=[], **kwargs)
        except docker.errors.APIError as exc:
            raise InjectionError(f"{self.kind} {self.target}: the engine would not run its sidecar "
                                 f"{self.sidecar_name}: {exc.explanation or exc}") from None

    def _remove_sidecar(self) -> None:
        import docker

        try:
            self.stack._client.containers.get(self.sidecar_name).remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: its removal is already under way (a signal cut an earlier call short)
                raise InjectionError(f"{self.kind} {self.target}: could not remove its sidecar {self.sidecar_name}: "
                                     f"{exc.explanation or exc}") from None

    def sidecar_gone(self) -> bool:
        import docker

        try:
            self.stack._client.containers.get(self.sidecar_name)
        except docker.errors.NotFound:
            return True
        return False


class StressContainer(SidecarFault):
    """stress-ng inside the service's cgroup and pid namespace, so the load counts against the service."""

    def __init__(self, stack: Any, service: str, kind: str, args: list[str], ledger: Ledger | None = None) -> None:
        self.kind = kind
        super().__init__(stack, service, ledger)
        self.args = args

    def describe(self) -> str:
        return f"{self.kind} {self.target} (stress-ng {' '.join(self.args)})"

    def _apply(self) -> None:
        cgroup = f"/docker/{self.container.id}"  # cgroup v1, cgroupfs driver: the service's own cgroup
        self.sidecar = self._run_sidecar(["stress-ng", *self.args, "--timeout", "3600s"], cgroup_parent=cgroup,
                                         pid_mode=f"container:{self.container.id}")
        self._stamp()
        if not _wait(lambda: self.stress_running(), 10):
            raise InjectionError(f"{self.kind} {self.target}: stress-ng did not start: "
                                 f"{self.sidecar.logs(tail=3).decode(errors='replace').strip()}")

    def stress_running(self) -> bool:
        """stress-ng seen in the service's pid namespace (the engine's view of the service's processes)."""
        with contextlib.suppress(Exception):
            top = self.container.top()
            return any("stress-ng" in " ".join(p) for p in top.get("Processes") or [])
        return False

    def _undo(self) -> None:
        self._remove_sidecar()
        if not _wait(lambda: not self.stress_running() and self.sidecar_gone(), 10):
            raise InjectionError(f"{self.kind} {self.target}: stress-ng still running after the revert")


class PacketLoss(SidecarFault):
    """Drop a share of the service's outgoing packets: nftables in its network namespace (no netem needed)."""

    kind = "packet-loss"
    revert_action = "delete the nftables table gameday_fault in the container's network namespace"

    def __init__(self, stack: Any, service: str, percent: float, ledger: Ledger | None = None) -> None:
        super().__init__(stack, service, ledger)
        self.percent = percent

    def describe(self) -> str:
        return f"packet-loss {self.target} ({self.percent:g}% of outgoing packets dropped)"

    def _nft(self, script: str) -> tuple[int, str]:
        import docker

        side = self._run_sidecar(["sleep", "3600"], network_mode=f"container:{self.container.id}",
                                 cap_add=["NET_ADMIN"])
        try:
            return exec_in(side, ["sh", "-c", script])
        except docker.errors.APIError as exc:
            raise InjectionError(f"packet-loss {self.target}: nft in the sidecar {self.sidecar_name} failed: "
                                 f"{exc.explanation or exc}") from None
        finally:
            self._remove_sidecar()

    def _apply(self) -> None:
        share = max(1, min(100, round(self.percent)))
        match = "" if share >= 100 else f"numgen random mod 100 '<' {share} "
        code, out = self._nft(f"nft add table inet {NFT_TABLE} && "
                              f"nft 'add chain inet {NFT_TABLE} out {{ type filter hook output priority 0; }}' && "
                              f"nft add rule inet {NFT_TABLE} out {match}drop")
        if code != 0:
            raise InjectionError(f"packet-loss {self.target}: nft failed (exit {code}): {out.strip()}")
        self._stamp()

    def table_present(self) -> bool:
        code, _ = self._nft(f"nft list table inet {NFT_TABLE}")
        return code == 0

    def _undo(self) -> None:
        self._nft(f"nft delete table inet {NFT_TABLE} 2>/dev/null || true")
        if self.table_present():
            raise InjectionError(f"packet-loss {self.target}: the nftables table is still there after the revert")


class DisconnectNetwork(ContainerFault):
    kind = "network-disconnect"
    revert_action = "connect the container to the stack's network with its service alias"

    def detail(self) -> dict[str, Any]:
        return super().detail() | {"network": self.stack.network().name, "aliases": self.aliases()}

    def aliases(self) -> list[str]:
        """The container's names on the stack's network (its service, and the ``project-service-1`` Compose
        gives it), which a reconnect must give back; the engine adds the short id by itself."""
        self.container.reload()
        net = (self.container.attrs["NetworkSettings"]["Networks"] or {}).get(self.stack.network().name) or {}
        short = self.container.id[:12]
        return sorted({*(a for a in net.get("Aliases") or [] if a != short), self.target})

    def _apply(self) -> None:
        self.network = self.stack.network()
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
            self.network.connect(self.container, aliases=getattr(self, "_aliases", None) or [self.target])
        if not self.connected():
            raise InjectionError(f"network-disconnect {self.target}: not back on {self.network.name}")


def compose_fault_kinds(stack: Any) -> FaultKinds:
    """The container faults this stack can take; latency needs netem, which not every kernel has."""
    def cpu(stk: Any, spec: Any, duration: float | None, ledger: Ledger | None) -> Fault:
        return StressContainer(stk, spec.target, "cpu-stress",
                               ["--cpu", str(spec.workers), "--cpu-load", str(spec.load)], ledger)

    def memory(stk: Any, spec: Any, duration: float | None, ledger: Ledger | None) -> Fault:
        return StressContainer(stk, spec.target, "memory-stress",
                               ["--vm", "1", "--vm-bytes", f"{spec.megabytes}M", "--vm-keep"], ledger)

    return FaultKinds(
        builders={
            "kill-service": lambda stk, spec, duration, ledger: CrashContainer(stk, spec.target, duration, ledger),
            "stop-service": lambda stk, spec, duration, ledger: StopContainer(stk, spec.target, ledger),
            "pause-service": lambda stk, spec, duration, ledger: PauseContainer(stk, spec.target, ledger),
            "cpu-stress": cpu,
            "memory-stress": memory,
            "packet-loss": lambda stk, spec, duration, ledger: PacketLoss(stk, spec.target, spec.percent, ledger),
            "network-disconnect": lambda stk, spec, duration, ledger: DisconnectNetwork(stk, spec.target, ledger),
        },
        missing={"latency": netem_missing(),
                 "request-failures": "the compose stack has no relay in the gateway's path to its backend yet"})


def netem_missing() -> str:
    """Why latency cannot be injected here: this kernel's qdisc list has no netem, or it is not built yet."""
    if not os.path.exists("/proc/config.gz") and not any(
            os.path.exists(p) for p in (f"/lib/modules/{os.uname().release}/kernel/net/sched/sch_netem.ko",
                                        f"/lib/modules/{os.uname().release}/kernel/net/sched/sch_netem.ko.xz")):
        return ("this kernel has no netem (sch_netem), so tc cannot delay packets; latency needs a fault proxy in "
                "the request path, which gameday does not have yet")
    return "latency through netem is not built yet"


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
                network.connect(container, aliases=detail.get("aliases") or [entry.get("target")])
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
