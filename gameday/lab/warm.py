"""A warm lab: ``gameday lab up`` keeps the embedded lab running between pytest sessions.

A session that finds it in its reports folder (``reports/lab/warm.json``, written by the lab's own process) drills
on it instead of starting a lab of its own, when the lab was started with the same time scale, config, rules and
lab code; otherwise it stops with one line saying what differs. The session then:

- holds the lab (``POST /hold?pid=``): one session at a time, a second is refused with one line;
- drives its services through the lab's control API (``RemoteSupervisor``) and its link and cgroup as before;
- listens for Alertmanager's pages on the port the warm lab rendered into its config (nothing listens there
  between sessions);
- leaves every service as it found it. Should the session die holding a fault, the warm lab sees its holder
  gone and restores its baseline (every service wanted and running with its configured restart delay, the link
  clear, no stress-ng in the backend's cgroup); the fault's watchdog, or ``gameday revert``, asks the same of the
  lab (``POST /restore``, named in the fault's ledger entry) and records what the lab answered it checked.

Run by ``gameday lab up``: python -m gameday.lab.warm --reports DIR [--time-scale N] [--rules DIR] ...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from gameday.core.signals import SignalStop
from gameday.faults.ledger import alive
from gameday.lab.warmfile import WARM_FILE, find_warm, fingerprint, mismatch, write_private

GUARDED = frozenset({"hold", "release"})
"""The control API's actions only a holder of the warm lab's secret may call."""


def _pid(query: dict[str, str]) -> int | None:
    try:
        pid = int(query.get("pid", ""))
    except ValueError:
        return None
    return pid if pid > 0 else None


class Holder:
    """The one session drilling on the warm lab (its pid), for ``POST /hold`` and ``POST /release``."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self._lock = threading.Lock()

    def hold(self, query: dict[str, str]) -> tuple[int, object]:
        pid = _pid(query)
        if pid is None:
            return 400, {"error": f"pid={query.get('pid')!r}: a process id is needed"}
        with self._lock:
            if self.pid not in (None, pid) and alive(self.pid):
                return 409, {"error": f"the warm lab is in use by the session of pid {self.pid}"}
            self.pid = pid
        return 200, {"held by": pid}

    def release(self, query: dict[str, str]) -> tuple[int, object]:
        with self._lock:
            if self.pid is not None and self.pid == _pid(query):
                self.pid = None
        return 200, {"held by": self.pid}

    def lost(self) -> int | None:
        """The holder's pid once its process is gone (it is then let go), else None."""
        with self._lock:
            if self.pid is None or alive(self.pid):
                return None
            pid, self.pid = self.pid, None
            return pid


def restore(lab: Any, delays: dict[str, float], timeout: float = 10.0) -> tuple[int, object]:
    """Put the lab back as it was started: every service running with its restart delay, the link clear, no
    stress in the backend's cgroup; then check each, and answer what was checked or what is still wrong."""
    sup = lab.supervisor
    for name, delay in delays.items():
        sup.set_restart_delay(name, delay)
        sup.start(name)
    for setting, param in (("delay", "ms"), ("fail", "percent")):
        with contextlib.suppress(requests.RequestException):
            requests.put(f"{lab.endpoints.link}/{setting}", params={param: 0}, timeout=2)
    stressors = lab.cgroup.stressors() if lab.cgroup is not None else []
    for pid in stressors:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while True:
        wrong = _baseline_problems(lab)
        if not wrong:
            return 200, {"checked": f"{len(delays)} services running, the link clear, "
                                    f"{len(stressors)} stress-ng process(es) ended"}
        if time.monotonic() > deadline:
            return 500, {"error": "; ".join(wrong)}
        time.sleep(0.1)


def _baseline_problems(lab: Any) -> list[str]:
    wrong = [f"{name} is not running" for name, st in lab.supervisor.status().items() if not st["running"]]
    for setting, field in (("delay", "delay_ms"), ("fail", "percent")):
        try:
            if requests.get(f"{lab.endpoints.link}/{setting}", timeout=2).json()[field]:
                wrong.append(f"the link still holds {setting}")
        except (requests.RequestException, ValueError, KeyError):
            wrong.append(f"the link did not answer GET /{setting}")
    if lab.cgroup is not None and lab.cgroup.stressors():
        wrong.append("stress-ng is still in the backend's cgroup")
    return wrong


def serve(cfg: Any, poll: float = 0.2) -> int:
    """Run the lab until SIGTERM or SIGINT, restoring its baseline whenever the session holding it dies."""
    from gameday.core.errors import GamedayError
    from gameday.lab.stack import Lab

    stop = SignalStop((signal.SIGTERM, signal.SIGINT))
    holder, delays = Holder(), {}
    lab = Lab(cfg, warm=True)
    lab.control_posts = {"hold": holder.hold, "release": holder.release,
                         "restore": lambda _query: restore(lab, delays)}
    lab.control_guarded = GUARDED
    path = cfg.workdir / WARM_FILE
    try:
        with lab:
            assert lab.endpoints is not None
            delays.update({n: float(s["restart_delay"]) for n, s in lab.supervisor.status().items()})  # type: ignore[arg-type]
            write_private(path, json.dumps({"pid": os.getpid(), "fingerprint": fingerprint(cfg),
                                            "endpoints": lab.endpoints.as_dict(), "secret": lab.webhook.secret,
                                            "cgroup_problem": lab.cgroup_problem,
                                            "started_in": lab.started_in, "started": time.time()}, indent=2))
            print(f"warm lab ready in {lab.started_in:.1f}s (pid {os.getpid()})", flush=True)
            while not stop.wait(poll):
                gone = holder.lost()
                if gone is not None:
                    status, body = restore(lab, delays)
                    print(f"the session of pid {gone} ended holding the lab: restore {status} {body}", flush=True)
    except GamedayError as exc:
        print(f"gameday: {exc}", flush=True)
        return 2
    finally:
        path.unlink(missing_ok=True)
    return 0


def up(cfg: Any, timeout: float = 60.0) -> int:
    """``gameday lab up``: start a warm lab in the background and wait until it is ready (or say why not)."""
    workdir = cfg.workdir
    warm = find_warm(workdir)
    if warm is not None:
        problem = mismatch(warm, fingerprint(cfg), workdir)
        if problem:
            print(f"gameday lab up: {problem}")
            return 2
        print(f"gameday lab up: the warm lab in {workdir} is already up (pid {warm['pid']}), with these options")
        return 0
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "gameday.lab.warm", "--root", str(cfg.root), "--workdir", str(workdir),
            "--time-scale", f"{cfg.time_scale:g}", "--config", str(cfg.config_dir), "--rules", str(cfg.rules_dir)]
    log_path = workdir / "warm.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=cfg.root)
    deadline = time.monotonic() + timeout
    while (warm := find_warm(workdir)) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.terminate()
            lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
            print(f"gameday lab up: the lab did not start: {lines[-1] if lines else 'no output'} (log: {log_path})")
            return 2
        time.sleep(0.1)
    print(f"gameday lab up: warm lab ready in {warm['started_in']:.1f}s, pid {warm['pid']}, time scale "
          f"{cfg.time_scale:g}; `pytest gamedays/ --reports {workdir.parent}` with the same options drills on it, "
          f"`gameday lab down --reports {workdir.parent}` stops it")
    for name, url in warm["endpoints"].items():
        print(f"  {name:<13} {url}")
    return 0


def down(workdir: Path, timeout: float = 30.0) -> int:
    """``gameday lab down``: stop the warm lab (a session holding it has its faults restored first)."""
    warm = find_warm(workdir)
    if warm is None:
        print(f"gameday lab down: no warm lab in {workdir}")
        return 0
    pid = int(warm["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):  # killed: its services are set to die with it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        (workdir / WARM_FILE).unlink(missing_ok=True)
        print(f"gameday lab down: the warm lab (pid {pid}) did not stop within {timeout:.0f}s of SIGTERM: "
              f"{'still alive after SIGKILL' if alive(pid) else 'killed; its services die with it'} "
              f"(log: {workdir / 'warm.log'})")
        return 1
    print(f"gameday lab down: the warm lab in {workdir} (pid {pid}) stopped")
    return 0


def status(workdir: Path) -> int:
    """``gameday lab status``: whether a warm lab is up, with what, and who holds it."""
    warm = find_warm(workdir)
    if warm is None:
        print(f"gameday lab status: no warm lab in {workdir}")
        return 1
    fp = warm["fingerprint"]
    print(f"gameday lab status: warm lab in {workdir}, pid {warm['pid']}, time scale {fp['time scale']}, up "
          f"{time.time() - warm['started']:.0f}s")
    for name, url in warm["endpoints"].items():
        print(f"  {name:<13} {url}")
    return 0


def command(args: argparse.Namespace) -> int:
    """``gameday lab up|down|status``, with the arguments ``gameday.lab.target.pytest_gameday_add_commands`` defines."""
    from gameday.lab.stack import LabConfig

    workdir = (args.reports / "lab").resolve()
    if args.action == "down":
        return down(workdir)
    if args.action == "status":
        return status(workdir)
    for name, folder in (("--rules", args.rules), ("--lab-config", args.lab_config)):
        if folder is not None and not folder.is_dir():
            print(f"gameday lab up: {name} {folder}: no such folder")
            return 2
    from gameday.plugin.usage import reports_problem, time_scale_problem

    if problem := time_scale_problem(args.time_scale) or reports_problem(args.reports):
        print(f"gameday lab up: {problem}")
        return 2
    root = args.root.resolve()
    if not (root / "config").is_dir() and args.lab_config is None:
        print(f"gameday lab up: {root} has no config/ folder: run it in the project, or give --root")
        return 2
    return up(LabConfig(root, workdir, args.time_scale, rules_dir=args.rules and args.rules.resolve(),
                             config_dir=args.lab_config and args.lab_config.resolve()))


def main(argv: list[str] | None = None) -> int:
    from gameday.lab.stack import LabConfig

    parser = argparse.ArgumentParser(prog="python -m gameday.lab.warm", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--rules", type=Path, required=True)
    args = parser.parse_args(argv)
    return serve(LabConfig(args.root, args.workdir, args.time_scale, rules_dir=args.rules, config_dir=args.config))


if __name__ == "__main__":
    sys.exit(main())
