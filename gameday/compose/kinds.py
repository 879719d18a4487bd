"""The fault kinds the Compose stack takes, built from the container faults and the sidecar faults."""

from __future__ import annotations

from typing import Any

from gameday.compose.faults import CrashContainer, DisconnectNetwork, PauseContainer, StopContainer
from gameday.compose.sidecars import PacketLoss, StressContainer, netem_missing
from gameday.faults.base import Fault
from gameday.faults.ledger import Ledger
from gameday.target.protocol import FaultKinds


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
