"""The ``process`` platform: a service that is a process on this host, found by its pid file, its systemd unit or
a command line that matches exactly one process; and the faults that reach it through signals.

A process is named by its pid and its start time (``/proc/PID/stat`` field 22), so a pid the kernel gave to
another process since is never signalled: every signal, the watchdog's and ``gameday revert``'s too, checks both.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.core.errors import HarnessError, InjectionError
from gameday.faults.base import Fault, wait_until
from gameday.faults.ledger import Ledger
from gameday.team.model import ProcessPlatform

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # after the command's name, which may hold spaces and parentheses


def started_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when there is no such process."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def state_of(pid: int) -> str | None:
    """``R``, ``S``, ``T`` (stopped), ``Z`` (a zombie) ...; None when there is no such process."""
    fields = _stat(pid)
    return fields[0] if fields else None


def cmdline_of(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def children_of(pid: int) -> list[int]:
    """Every descendant of ``pid`` (a service's workers), read from each process's parent."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def monotonic_of_ticks(ticks: int) -> float:
    """A start time in ticks since boot on ``time.monotonic()``'s clock (both count from boot; the offset is read
    rather than assumed)."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return time.monotonic() - uptime + ticks / TICKS


@dataclass(frozen=True)
class Proc:
    """One process, by pid and start time."""

    pid: int
    started: int

    def alive(self) -> bool:
        return started_ticks(self.pid) == self.started and state_of(self.pid) != "Z"

    def signal(self, sig: int) -> bool:
        """Send ``sig`` if this is still the same process; False when it is gone."""
        if started_ticks(self.pid) != self.started:
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def as_dict(self) -> dict[str, int]:
        return {"pid": self.pid, "started": self.started}


class ProcessService:
    """How gameday finds, watches, stops and starts one service on the ``process`` platform."""

    def __init__(self, name: str, spec: ProcessPlatform, shown: str) -> None:
        self.name, self.spec, self.shown = name, spec, shown

    def describe(self) -> str:
        s = self.spec
        return (f"pid file {s.pidfile}" if s.pidfile else f"systemd unit {s.systemd}" if s.systemd
                else f"the process whose command line is {s.cmdline!r}")

    def find(self) -> Proc | None:
        """The service's main process now, or None when it is not running. A command line that matches more than
        one process is an error: a fault must never guess which."""
        pid = self._pid()
        if pid is None:
            return None
        ticks = started_ticks(pid)
        if ticks is None or state_of(pid) == "Z":
            return None
        return Proc(pid, ticks)

    def _pid(self) -> int | None:
        s = self.spec
        if s.pidfile is not None:
            try:
                text = Path(s.pidfile).read_text().strip()
            except OSError:
                return None
            return int(text) if text.isdigit() else None
        if s.systemd is not None:
            out = _systemctl("show", "-p", "MainPID", "--value", s.systemd)
            return int(out) if out.isdigit() and int(out) > 0 else None
        matches = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()
                   and cmdline_of(int(e.name)) == s.cmdline]
        if len(matches) > 1:
            raise HarnessError(f"{self.shown}: services.{self.name}.platform.process.cmdline matches "
                               f"{len(matches)} processes ({', '.join(map(str, sorted(matches)[:5]))}): it must "
                               "match exactly one")
        return matches[0] if matches else None

    def is_running(self) -> bool:
        return self.find() is not None

    def last_started(self) -> float | None:
        proc = self.find()
        return None if proc is None else monotonic_of_ticks(proc.started)

    def can_start(self) -> bool:
        return self.spec.systemd is not None or self.spec.start is not None

    def start(self) -> None:
        """Start the service again (``systemctl start``, or the file's ``start`` command, detached)."""
        if self.spec.systemd is not None:
            _systemctl("start", self.spec.systemd, check=True)
            return
        if self.spec.start is None:
            raise HarnessError(f"{self.name}: no way to start it again (give platform.process.start)")
        subprocess.Popen(self.spec.start, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # noqa: S603
                         stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self, proc: Proc) -> None:
        if self.spec.systemd is not None:
            _systemctl("stop", self.spec.systemd, check=True)
        else:
            proc.signal(signal.SIGTERM)


def _systemctl(*args: str, check: bool = False) -> str:
    binary = shutil.which("systemctl")
    if binary is None:
        raise HarnessError("a systemd unit needs systemctl, which this machine does not have")
    run = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    if check and run.returncode != 0:
        raise HarnessError(f"systemctl {' '.join(args)}: {(run.stderr or run.stdout).strip()[:300]}")
    return run.stdout.strip()


class _ProcessFault(Fault):
    """A fault on one service of the process platform: what every kind shares."""

    def __init__(self, service: ProcessService, ledger: Ledger | None = None) -> None:
        super().__init__(service.name, ledger)
        self.service = service

    def detail(self) -> dict[str, Any]:
        return {"platform": "process", "how": self.service.describe()}

    def _running(self) -> Proc:
        proc = self.service.find()
        if proc is None:
            raise InjectionError(f"{self.kind} {self.target}: not running ({self.service.describe()})")
        return proc

    def in_effect(self) -> bool:
        return not self.service.is_running()

    def _start_again(self) -> None:
        """Start the service where it is not running (and can be), and check it runs."""
        if self.service.is_running() or not self.service.can_start():
            return
        self.service.start()
        if not wait_until(self.service.is_running, 30, 0.2):
            raise HarnessError(f"revert of {self.kind} {self.target}: started again, but not running after 30s")


class ProcessKill(_ProcessFault):
    """SIGKILL the service's main process, as a crash; what restarts services on this host brings it back. Revert
    starts it where nothing did and the file says how (a systemd unit, or ``start``)."""

    kind = "kill-service"

    def _apply(self) -> None:
        proc = self._running()
        if not proc.signal(signal.SIGKILL):
            raise InjectionError(f"kill-service {self.target}: pid {proc.pid} was gone before the kill")
        self._stamp()
        if not wait_until(lambda: not proc.alive(), 5):
            raise InjectionError(f"kill-service {self.target}: pid {proc.pid} still running 5s after SIGKILL")

    def _undo(self) -> None:
        self._start_again()


class ProcessStop(_ProcessFault):
    """Stop the service on purpose (``systemctl stop``, or SIGTERM); revert starts it again."""

    kind = "stop-service"

    def _apply(self) -> None:
        proc = self._running()
        self.service.stop(proc)
        self._stamp()
        if not wait_until(lambda: not proc.alive(), 15, 0.05):
            raise InjectionError(f"stop-service {self.target}: pid {proc.pid} still running 15s after it was "
                                 "told to stop")

    def _undo(self) -> None:
        self._start_again()


class ProcessPause(_ProcessFault):
    """Freeze the service (SIGSTOP to its main process and every descendant); revert thaws them (SIGCONT). The
    processes stay frozen should the harness die, so a watchdog guards the fault and the ledger keeps each pid with
    its start time for ``gameday revert``."""

    kind = "pause-service"
    outlives_harness = True
    reverter = "process-pause"

    def __init__(self, service: ProcessService, ledger: Ledger | None = None) -> None:
        super().__init__(service, ledger)
        self.frozen: list[Proc] = []

    def detail(self) -> dict[str, Any]:
        return {**super().detail(), "processes": [p.as_dict() for p in self._targets()]}

    def _targets(self) -> list[Proc]:
        if self.frozen:
            return self.frozen
        main = self.service.find()
        if main is None:
            return []
        procs = [main]
        for pid in children_of(main.pid):
            if (ticks := started_ticks(pid)) is not None:
                procs.append(Proc(pid, ticks))
        self.frozen = procs
        return procs

    def _apply(self) -> None:
        procs = self._targets()
        if not procs:
            raise InjectionError(f"pause-service {self.target}: not running ({self.service.describe()})")
        for proc in procs:
            proc.signal(signal.SIGSTOP)
        self._stamp()
        if not wait_until(lambda: all(state_of(p.pid) in ("T", "t", None) for p in procs), 5):
            raise InjectionError(f"pause-service {self.target}: not every process stopped within 5s")

    def in_effect(self) -> bool:
        return any(state_of(p.pid) in ("T", "t") for p in self.frozen if p.alive())

    def _undo(self) -> None:
        thaw(self.frozen)
        if not wait_until(lambda: not self.in_effect(), 5):
            raise HarnessError(f"revert of pause-service {self.target}: still stopped 5s after SIGCONT")


def thaw(procs: list[Proc]) -> list[int]:
    """SIGCONT to each process that is still the one frozen; the pids thawed."""
    return [p.pid for p in procs if p.signal(signal.SIGCONT)]


def revert_pause(entry: dict[str, Any]) -> tuple[str, str]:
    """The reverter ``process-pause`` (entry point ``gameday.reverters``): thaw what a dead run froze."""
    procs = [Proc(int(p["pid"]), int(p["started"])) for p in (entry.get("detail") or {}).get("processes", [])]
    thawed = thaw(procs)
    still = [p.pid for p in procs if p.alive() and state_of(p.pid) in ("T", "t")]
    if still:
        return "abandoned", f"SIGCONT sent, but {', '.join(map(str, still))} still stopped: thaw them by hand"
    if not thawed:
        return "gone", "none of the frozen processes is still there (the same pid with the same start time)"
    return "reverted", f"thawed {len(thawed)} process(es) ({', '.join(map(str, thawed))}), checked running"
