"""Faults that run beside a container, in a sidecar that shares its namespaces: CPU and memory stress, and
packet loss through netem."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from gameday.compose.faults import NFT_TABLE, SIDECAR_LABEL, ContainerFault, exec_in, wait_until
from gameday.core.errors import InjectionError
from gameday.faults.ledger import Ledger


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
        if not wait_until(lambda: self.stress_running(), 10):
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
        if not wait_until(lambda: not self.stress_running() and self.sidecar_gone(), 10):
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


def netem_missing() -> str:
    """Why latency cannot be injected here: this kernel's qdisc list has no netem, or it is not built yet."""
    if not os.path.exists("/proc/config.gz") and not any(
            os.path.exists(p) for p in (f"/lib/modules/{os.uname().release}/kernel/net/sched/sch_netem.ko",
                                        f"/lib/modules/{os.uname().release}/kernel/net/sched/sch_netem.ko.xz")):
        return ("this kernel has no netem (sch_netem), so tc cannot delay packets; latency needs a fault proxy in "
                "the request path, which gameday does not have yet")
    return "latency through netem is not built yet"
