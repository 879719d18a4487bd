"""A small process supervisor: starts lab services and restarts a killed one after a delay.

It plays the part of a container restart policy. ``stop`` is a deliberate stop (like
``docker stop``): the service stays down until ``start``.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from gameday.core.errors import HarnessError
from gameday.core.httpserver import LoopbackServer, QuietHandler
from gameday.core.processes import die_with_parent
from gameday.lab.cgroups import Cgroup
from gameday.observe.receiver import bearer, carries


@dataclass
class ServiceSpec:
    name: str
    argv: list[str]
    log_path: Path
    restart_delay: float = 1.0
    env: dict[str, str] | None = None
    cgroup: Cgroup | None = None
    """Started inside this cgroup (the child joins it before it execs, so all it ever uses is counted)."""


@dataclass
class ServiceState:
    spec: ServiceSpec
    proc: subprocess.Popen[bytes] | None = None
    wanted: bool = True
    restarts: int = 0
    history: list[tuple[float, str, int | None]] = field(default_factory=list)
    """(monotonic time, what happened, pid or exit code)"""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    """Runs each service in a watcher thread; thread-safe ``stop``, ``start``, ``pid``, ``status``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._services: dict[str, ServiceState] = {}
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._start_now: set[str] = set()

    def add(self, spec: ServiceSpec) -> None:
        state = ServiceState(spec)
        with self._cond:
            self._services[spec.name] = state
        thread = threading.Thread(target=self._watch, args=(state,), name=f"supervise-{spec.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def names(self) -> list[str]:
        return list(self._services)

    def _spawn(self, state: ServiceState) -> None:
        spec = state.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(spec.log_path, "ab")  # noqa: SIM115 - handed to the child
        env = {**os.environ, **(spec.env or {})}
        state.proc = subprocess.Popen(spec.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=env, start_new_session=True, preexec_fn=child_setup(spec.cgroup))
        log.close()
        state.history.append((time.monotonic(), "started", state.proc.pid))

    def _watch(self, state: ServiceState) -> None:
        name = state.spec.name
        while True:
            with self._cond:
                while not state.wanted and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                self._spawn(state)
                proc = state.proc
            assert proc is not None
            code = proc.wait()
            with self._cond:
                state.history.append((time.monotonic(), "exited", code))
                if self._closing:
                    return
                if not state.wanted:
                    continue
                state.restarts += 1
                deadline = time.monotonic() + state.spec.restart_delay
                while state.wanted and not self._closing and name not in self._start_now:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                self._start_now.discard(name)

    def pid(self, name: str) -> int | None:
        with self._cond:
            state = self._services[name]
            return state.proc.pid if state.running and state.proc else None

    def is_running(self, name: str) -> bool:
        with self._cond:
            return self._services[name].running

    def set_restart_delay(self, name: str, seconds: float) -> float:
        """Change a service's restart delay; returns the old one."""
        with self._cond:
            spec = self._services[name].spec
            old, spec.restart_delay = spec.restart_delay, seconds
            return old

    def stop(self, name: str, timeout: float = 5.0) -> None:
        """Stop a service on purpose; it stays down until ``start``."""
        with self._cond:
            state = self._services[name]
            state.wanted = False
            proc = state.proc
            self._cond.notify_all()
        if proc is not None and proc.poll() is None:
            _terminate(proc, timeout)

    def start(self, name: str) -> None:
        """Start a stopped service, or cut short a pending restart."""
        with self._cond:
            state = self._services[name]
            state.wanted = True
            if not state.running:
                self._start_now.add(name)
            self._cond.notify_all()

    def history(self, name: str) -> list[tuple[float, str, int | None]]:
        with self._cond:
            return list(self._services[name].history)

    def status(self) -> dict[str, dict[str, object]]:
        with self._cond:
            return {n: {"pid": s.proc.pid if s.running and s.proc else None, "running": s.running,
                        "wanted": s.wanted, "restarts": s.restarts, "restart_delay": s.spec.restart_delay}
                    for n, s in self._services.items()}

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closing = True
            procs = [s.proc for s in self._services.values() if s.proc is not None]
            self._cond.notify_all()
        for proc in procs:
            if proc.poll() is None:
                _terminate(proc, timeout)
        for thread in self._threads:
            thread.join(timeout)


def child_setup(cgroup: Cgroup | None) -> Callable[[], None]:
    """What a child runs before it execs: die with the harness, and join its cgroup when it has one."""
    if cgroup is None:
        return die_with_parent

    def setup() -> None:
        die_with_parent()
        cgroup.join()

    return setup


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        proc.terminate()
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


HARNESS_HEADER = "X-Gameday-Harness"
"""Set on the harness's own calls to the control API (a warm lab's faults), which are not a person's actions."""


class ControlServer(LoopbackServer):
    """The supervisor's HTTP control on loopback, for people following a runbook, and for a harness driving a warm
    lab (``gameday lab up``) from another process.

    ``GET /services`` lists services; ``POST /services/<name>/start|stop|restart`` acts on one;
    ``GET /services/<name>/history`` is its start and exit times (``time.monotonic()``, one clock for every process
    on the machine); ``PUT /services/<name>/restart-delay?seconds=S`` sets its restart delay and answers the old
    one; ``GET /calls`` lists the start, stop and restart calls people made. ``posts`` adds ``POST /<name>``
    actions: a function of the query's parameters that answers ``(status, body)``; those named in ``guarded``
    answer only a caller that carries ``secret`` (a warm lab's hold and release: no other local process may
    take the lab).
    """

    def __init__(self, supervisor: Supervisor, host: str = "127.0.0.1", port: int = 0,
                 posts: dict[str, Callable[[dict[str, str]], tuple[int, object]]] | None = None,
                 guarded: frozenset[str] = frozenset(), secret: str | None = None) -> None:
        sup = supervisor
        self.calls: list[tuple[float, str]] = []
        """Each start, stop or restart a person asked of it: ``(time.monotonic(), "POST /services/<name>/<action>")``,
        for a shadow exercise's timeline (what the trainee did that the harness can see)."""
        calls, posts = self.calls, dict(posts or {})

        class Handler(QuietHandler):
            def _send(self, code: int, body: object) -> None:
                data = (json.dumps(body, indent=2) + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self) -> tuple[list[str], dict[str, str]]:
                url = urlsplit(self.path)
                return url.path.strip("/").split("/"), dict(parse_qsl(url.query))

            def _service(self, name: str) -> bool:
                if name in sup.names():
                    return True
                self._send(404, {"error": f"no service {name!r}", "services": sup.names()})
                return False

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                parts, _ = self._route()
                if parts == ["services"]:
                    self._send(200, sup.status())
                elif len(parts) == 3 and parts[0] == "services" and parts[2] == "history":
                    if self._service(parts[1]):
                        self._send(200, sup.history(parts[1]))
                elif parts == ["calls"]:
                    self._send(200, list(calls))
                else:
                    self._send(404, {"error": "try GET /services"})

            def do_PUT(self) -> None:  # noqa: N802
                parts, query = self._route()
                if len(parts) != 3 or parts[0] != "services" or parts[2] != "restart-delay" or "seconds" not in query:
                    self._send(404, {"error": "try PUT /services/<name>/restart-delay?seconds=S"})
                    return
                try:
                    seconds = float(query["seconds"])
                except ValueError:
                    self._send(400, {"error": f"seconds={query['seconds']!r} is not a number"})
                    return
                if self._service(parts[1]):
                    self._send(200, {"old": sup.set_restart_delay(parts[1], seconds)})

            def do_POST(self) -> None:  # noqa: N802
                parts, query = self._route()
                if len(parts) == 1 and parts[0] in posts:
                    if parts[0] in guarded and not carries(self.headers, secret or ""):
                        self._send(401, {"error": f"POST /{parts[0]} is the harness's: the lab's secret is needed"})
                        return
                    self._send(*posts[parts[0]](query))
                    return
                if len(parts) != 3 or parts[0] != "services" or parts[2] not in ("start", "stop", "restart"):
                    self._send(404, {"error": "try POST /services/<name>/start|stop|restart"})
                    return
                name, action = parts[1], parts[2]
                if not self.headers.get(HARNESS_HEADER):
                    calls.append((time.monotonic(), f"POST {self.path}"))
                if not self._service(name):
                    return
                if action in ("stop", "restart"):
                    sup.stop(name)
                if action in ("start", "restart"):
                    sup.start(name)
                self._send(200, {name: sup.status()[name], "did": action})

        super().__init__(Handler, "supervisor-control", host, port)


class RemoteSupervisor:
    """A supervisor in another process (a warm lab's), driven through its control API: what the lab's faults and
    recovery ask of a ``Supervisor``. It owns no process, so ``shutdown`` leaves the services running."""

    def __init__(self, url: str, timeout: float = 10.0, secret: str | None = None) -> None:
        self.url, self.timeout, self.secret = url.rstrip("/"), timeout, secret

    def ask(self, method: str, path: str, timeout: float | None = None, **params: object
            ) -> tuple[int, dict[str, Any]]:
        """One call, as the harness (its calls are not a trainee's): (status, body); status 0 and the error in
        the body when the lab did not answer."""
        try:
            res = requests.request(method, f"{self.url}{path}", params=params or None,
                                   timeout=timeout or self.timeout,
                                   headers={HARNESS_HEADER: "1", **(bearer(self.secret) if self.secret else {})})
            return res.status_code, res.json()
        except (requests.RequestException, ValueError) as exc:
            return 0, {"error": f"{type(exc).__name__}: {exc}"}

    def _call(self, method: str, path: str, **params: object) -> Any:
        status, body = self.ask(method, path, **params)
        if status == 0:  # no answer at all: the warm lab's own process is gone or hung
            raise HarnessError(f"the warm lab stopped answering (its supervisor at {self.url}, asked {method} {path}): "
                               "it was stopped or killed; `gameday lab status` says whether it is up. This says "
                               "nothing about the alert")
        if status != 200:
            raise HarnessError(f"the warm lab's supervisor at {self.url} refused {method} {path}: HTTP {status}: "
                               f"{body.get('error', body)}")
        return body

    def names(self) -> list[str]:
        return list(self.status())

    def status(self) -> dict[str, dict[str, object]]:
        return dict(self._call("GET", "/services"))

    def pid(self, name: str) -> int | None:
        pid = self.status()[name]["pid"]
        return int(pid) if pid else None  # type: ignore[call-overload]

    def is_running(self, name: str) -> bool:
        return bool(self.status()[name]["running"])

    def set_restart_delay(self, name: str, seconds: float) -> float:
        return float(self._call("PUT", f"/services/{name}/restart-delay", seconds=seconds)["old"])

    def stop(self, name: str, timeout: float = 5.0) -> None:
        self._call("POST", f"/services/{name}/stop")

    def start(self, name: str) -> None:
        self._call("POST", f"/services/{name}/start")

    def history(self, name: str) -> list[tuple[float, str, int | None]]:
        return [(float(t), str(what), code) for t, what, code in self._call("GET", f"/services/{name}/history")]

    def calls(self) -> list[tuple[float, str]]:
        return [(float(t), str(call)) for t, call in self._call("GET", "/calls")]

    def shutdown(self, timeout: float = 5.0) -> None:
        """The services are the warm lab's: they stay up."""
