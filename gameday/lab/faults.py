"""Faults on lab services, applied from outside them through the process table and the supervisor."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import requests

from gameday.errors import InjectionError
from gameday.faults.base import Fault
from gameday.faults.ledger import Ledger
from gameday.lab.supervisor import Supervisor
from gameday.target import FaultKinds


def _wait(pred: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class KillService(Fault):
    """SIGKILL a lab service; the supervisor brings it back after its restart delay (or ``down_for``)."""

    kind = "kill-service"

    def __init__(self, supervisor: Supervisor, target: str, down_for: float | None = None,
                 ledger: Ledger | None = None) -> None:
        super().__init__(target, ledger)
        self.supervisor, self.down_for = supervisor, down_for
        self._old_delay: float | None = None
        self.killed_pid: int | None = None

    def detail(self) -> dict[str, Any]:
        return {"down_for": self.down_for}

    def _apply(self) -> None:
        pid = self.supervisor.pid(self.target)
        if pid is None:
            raise InjectionError(f"kill-service {self.target}: the service is not running, nothing to kill")
        if self.down_for is not None:
            self._old_delay = self.supervisor.set_restart_delay(self.target, self.down_for)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError as exc:
            raise InjectionError(f"kill-service {self.target}: pid {pid} vanished before the kill") from exc
        self._stamp()
        self.killed_pid = pid
        if not _wait(lambda: self.supervisor.pid(self.target) != pid, 5):
            raise InjectionError(f"kill-service {self.target}: pid {pid} still running 5s after SIGKILL")

    def _undo(self) -> None:
        if self._old_delay is not None:
            self.supervisor.set_restart_delay(self.target, self._old_delay)
            self._old_delay = None
        if not self.supervisor.is_running(self.target):
            self.supervisor.start(self.target)


class StopService(Fault):
    """Stop a lab service on purpose (a dependency outage); revert starts it again."""

    kind = "stop-service"

    def __init__(self, supervisor: Supervisor, target: str, ledger: Ledger | None = None) -> None:
        super().__init__(target, ledger)
        self.supervisor = supervisor

    def _apply(self) -> None:
        if not self.supervisor.is_running(self.target):
            raise InjectionError(f"stop-service {self.target}: the service is not running")
        self._stamp()
        self.supervisor.stop(self.target)
        if not _wait(lambda: not self.supervisor.is_running(self.target), 5):
            raise InjectionError(f"stop-service {self.target}: still running 5s after the stop")

    def _undo(self) -> None:
        self.supervisor.start(self.target)
        if not _wait(lambda: self.supervisor.is_running(self.target), 10):
            raise InjectionError(f"stop-service {self.target}: did not start again within 10s of the revert")


class LinkFault(Fault):
    """A fault set on the link relay in front of a lab service: one setting, put and read back."""

    setting = ""
    """The control path (``delay``, ``fail``) and the query parameter and field it sets and reads back."""
    param = ""
    field = ""

    def __init__(self, link: str, target: str, value: float, ledger: Ledger | None = None) -> None:
        super().__init__(target, ledger)
        self.link, self.value = link, value

    def detail(self) -> dict[str, Any]:
        return {self.param: self.value, "link": self.link}

    def _set(self, value: float, stamp: bool = False) -> None:
        """Put the setting and read it back; ``stamp`` marks the fault in as soon as the link took it."""
        url = f"{self.link}/{self.setting}"
        try:
            requests.put(url, params={self.param: value}, timeout=2).raise_for_status()
            if stamp:
                self._stamp()
            now = requests.get(url, timeout=2).json()[self.field]
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise InjectionError(f"{self.kind} {self.target}: the link at {self.link} did not take "
                                 f"{self.param}={value}: {type(exc).__name__}: {exc}") from None
        if now != value:
            raise InjectionError(f"{self.kind} {self.target}: the link holds {self.field}={now} after setting {value}")

    def _apply(self) -> None:
        self._set(self.value, stamp=True)

    def _undo(self) -> None:
        self._set(0)


class AddLatency(LinkFault):
    """Delay on the way to a lab service: the link in front of it holds every byte towards it for ``delay``."""

    kind, setting, param, field = "latency", "delay", "ms", "delay_ms"

    def __init__(self, link: str, target: str, delay: float, ledger: Ledger | None = None) -> None:
        super().__init__(link, target, round(delay * 1000), ledger)

    def describe(self) -> str:
        return f"latency +{self.value}ms on the way to {self.target}"


class FailRequests(LinkFault):
    """A share of the requests to a lab service cut on the link in front of it: a sustained partial failure."""

    kind, setting, param, field = "request-failures", "fail", "percent", "percent"

    def describe(self) -> str:
        return f"request-failures {self.value:g}% on the way to {self.target}"


def lab_fault_kinds() -> FaultKinds:
    """What the embedded lab can do to its services: they are plain processes under the supervisor."""
    containers = "the embedded lab runs plain processes; run it on the Compose stack (--target compose)"
    return FaultKinds(
        builders={
            "kill-service": lambda lab, spec, duration, ledger: KillService(lab.supervisor, spec.target,
                                                                           down_for=duration, ledger=ledger),
            "stop-service": lambda lab, spec, duration, ledger: StopService(lab.supervisor, spec.target,
                                                                           ledger=ledger),
            "latency": lambda lab, spec, duration, ledger: AddLatency(lab.endpoints.link, spec.target, spec.delay,
                                                                     ledger=ledger),
            "request-failures": lambda lab, spec, duration, ledger: FailRequests(lab.endpoints.link, spec.target,
                                                                                spec.percent, ledger=ledger),
        },
        missing={kind: containers for kind in ("pause-service", "cpu-stress", "memory-stress", "packet-loss",
                                               "network-disconnect")},
        aims={kind: (("model-backend",), "the lab acts on the gateway's link to its backend")
              for kind in ("latency", "request-failures")})
