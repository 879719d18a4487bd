"""Faults on lab services, applied from outside them through the process table and the supervisor."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import requests

from gameday.core.errors import InjectionError
from gameday.faults.base import Fault, wait_until
from gameday.faults.ledger import Ledger
from gameday.lab.cgroups import Cgroup
from gameday.lab.supervisor import Supervisor, child_setup
from gameday.target.protocol import FaultKinds


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
        if not wait_until(lambda: self.supervisor.pid(self.target) != pid, 5, 0.01):
            raise InjectionError(f"kill-service {self.target}: pid {pid} still running 5s after SIGKILL")

    def in_effect(self) -> bool:
        return not self.supervisor.is_running(self.target)

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
        if not wait_until(lambda: not self.supervisor.is_running(self.target), 5, 0.01):
            raise InjectionError(f"stop-service {self.target}: still running 5s after the stop")

    def in_effect(self) -> bool:
        return not self.supervisor.is_running(self.target)

    def _undo(self) -> None:
        self.supervisor.start(self.target)
        if not wait_until(lambda: self.supervisor.is_running(self.target), 10, 0.01):
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

    def in_effect(self) -> bool | None:
        try:
            return bool(requests.get(f"{self.link}/{self.setting}", timeout=2).json()[self.field])
        except (requests.RequestException, ValueError, KeyError):
            return None  # the link does not answer: nothing can be told from it

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


class Stress(Fault):
    """stress-ng inside a lab service's cgroup: its CPU time or memory counts against the service's limits, as a
    runaway process in a container does, and the cgroup's CPU quota bounds what it can take from the machine.

    stress-ng dies with the harness (and its workers with it: they watch their parent); the lab empties the
    cgroup when it stops and when it starts after a killed run."""

    reverter = "cgroup-stress"

    def __init__(self, kind: str, cgroup: Cgroup, target: str, args: list[str], log: Path,
                 ledger: Ledger | None = None) -> None:
        super().__init__(target, ledger)
        self.kind, self.cgroup, self.args, self.log = kind, cgroup, args, log
        self.proc: subprocess.Popen[bytes] | None = None

    def describe(self) -> str:
        return f"{self.kind} {self.target} (stress-ng {' '.join(self.args)})"

    def detail(self) -> dict[str, Any]:
        return {"cgroup": self.cgroup.path, "args": self.args}

    def stressors(self) -> list[int]:
        """The stress-ng processes in the service's cgroup."""
        return self.cgroup.stressors()

    def _apply(self) -> None:
        binary = shutil.which("stress-ng")
        if binary is None:
            raise InjectionError(f"{self.kind} {self.target}: stress-ng is not installed "
                                 "(apt-get install stress-ng, or run ./run, which does)")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([binary, *self.args, "--timeout", "3600s"], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=child_setup(self.cgroup))
        self._stamp()
        # the parent and a worker
        if not wait_until(lambda: len(self.stressors()) >= 2 or self.proc.poll() is not None, 10, 0.01):
            raise InjectionError(f"{self.describe()}: no stress-ng worker in the service's cgroup after 10s")
        if self.proc.poll() is not None:
            raise InjectionError(f"{self.describe()}: stress-ng exited at once ({self.proc.returncode}); "
                                 f"log: {self.log}")

    def in_effect(self) -> bool:
        return bool(self.stressors())

    def _undo(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for pid in self.stressors():  # a worker that left the group before the signal
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not wait_until(lambda: not self.stressors(), 5, 0.01):
            raise InjectionError(f"{self.describe()}: stress-ng still in the service's cgroup 5s after the revert: "
                                 f"pids {self.stressors()}")


def lab_fault_kinds(cgroup_problem: str | None = "the lab has not started", restore: str | None = None) -> FaultKinds:
    """What the embedded lab can do to its services: they are plain processes under the supervisor, and the
    backend has a cgroup of its own when this machine allows one (``cgroup_problem`` says why not).

    On a warm lab (``restore``: the URL that puts it back as it was started) a fault on a service or the link
    outlives a session that dies: a watchdog guards it, and its ledger entry names that URL."""
    containers = "the embedded lab runs plain processes; run it on the Compose stack (--target compose)"
    stress = {}
    if cgroup_problem is None:
        def log(lab: Any, spec: Any) -> Path:
            return lab.config.workdir / "logs" / f"{spec.kind}.log"

        stress = {
            "cpu-stress": lambda lab, spec, duration, ledger: Stress(
                "cpu-stress", lab.cgroup, spec.target, ["--cpu", str(spec.workers), "--cpu-load", str(spec.load)],
                log(lab, spec), ledger),
            "memory-stress": lambda lab, spec, duration, ledger: Stress(
                "memory-stress", lab.cgroup, spec.target,
                ["--vm", "1", "--vm-bytes", f"{spec.megabytes}M", "--vm-keep", "--vm-hang", "0"], log(lab, spec),
                ledger),
        }
    no_stress = f"the backend has no cgroup of its own here: {cgroup_problem}"
    builders: dict[str, Any] = {
        "kill-service": lambda lab, spec, duration, ledger: KillService(lab.supervisor, spec.target,
                                                                       down_for=duration, ledger=ledger),
        "stop-service": lambda lab, spec, duration, ledger: StopService(lab.supervisor, spec.target, ledger=ledger),
        "latency": lambda lab, spec, duration, ledger: AddLatency(lab.endpoints.link, spec.target, spec.delay,
                                                                 ledger=ledger),
        "request-failures": lambda lab, spec, duration, ledger: FailRequests(lab.endpoints.link, spec.target,
                                                                            spec.percent, ledger=ledger),
    }
    if restore is not None:  # stress-ng in the warm lab's cgroup outlives the session too: the lab ends it
        builders = {kind: _outliving(build, restore) for kind, build in builders.items()}
        stress = {kind: _outliving(build, restore) for kind, build in stress.items()}
    return FaultKinds(
        builders={**builders, **stress},
        missing={**{kind: containers for kind in ("pause-service", "packet-loss", "network-disconnect")},
                 **({} if stress else {"cpu-stress": no_stress, "memory-stress": no_stress})},
        aims={**{kind: (("model-backend",), "the lab acts on the gateway's link to its backend")
                 for kind in ("latency", "request-failures")},
              **{kind: (("model-backend",), "the backend is the lab service with a cgroup of its own")
                 for kind in stress}})


def _outliving(build: Any, restore: str) -> Any:
    def outliving(lab: Any, spec: Any, duration: float | None, ledger: Ledger | None) -> Fault:
        fault = build(lab, spec, duration, ledger)
        fault.outlives_harness = True
        fault.reverted_by = {"restore": restore}
        fault.reverter = "restore-url"
        return fault

    return outliving
