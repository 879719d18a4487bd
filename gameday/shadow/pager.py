"""The trainee's pager on loopback (``Pager``), the pages announced on it, one pager for a pytest session
(``open_pager``, ``close_pager``), and the trainee's helpers that talk to it (``gameday ack``, ``gameday do``)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.core.durations import human
from gameday.core.errors import printable
from gameday.core.httpserver import LoopbackServer, QuietHandler

PAGER_FILE = "shadow.json"
"""In the reports folder while a session's pager is up: its address, for the trainee's helpers."""


@dataclass
class Happening:
    """One thing on the exercise's timeline: ``t`` on ``time.monotonic()``."""

    t: float
    who: str
    """``trainee`` (a button, a helper command, a control call) or ``harness`` (hints, escalation, safety)."""
    what: str


@dataclass
class ShadowState:
    """What the pager shows and the exercise records; guarded by the pager's lock."""

    scenario: str = ""
    runbook: str = ""
    pages: list[dict[str, Any]] = field(default_factory=list)
    acked: float | None = None
    resolved_by_trainee: float | None = None
    log: list[Happening] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    debrief: list[str] = field(default_factory=list)
    over: bool = False


class Pager(LoopbackServer):
    """The trainee's pager on loopback: ``GET /`` the page (refreshing itself), ``POST /ack`` and ``POST /resolve``
    the buttons, ``GET /state`` as JSON, ``GET /env`` the target's addresses, ``GET /runbook`` the runbook's text,
    ``POST /action`` a command the helper ran (``{"command", "exit", "seconds"}``)."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = ShadowState()
        self.lock = threading.Lock()
        self.tell: Callable[[str], None] = print
        """A line for the trainee's terminal (the pytest plugin's live writer)."""
        self.trainee_log: Any = None
        """The running exercise's gatherer of what the trainee did (``by_person``): a
        ``gameday.shadow.exercise.TraineeLog``, which uses this pager, so it is not imported here."""
        pager = self

        class Handler(QuietHandler):
            def _send(self, code: int, body: str | bytes, ctype: str) -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                path = self.path.split("?")[0].rstrip("/") or "/"
                if path == "/":
                    self._send(200, pager.render(), "text/html; charset=utf-8")
                elif path == "/state":
                    self._send(200, json.dumps(pager.snapshot(), indent=2), "application/json")
                elif path == "/env":
                    with pager.lock:
                        self._send(200, json.dumps(pager.state.env), "application/json")
                elif path == "/runbook" and pager.state.runbook:
                    try:
                        text = (root / pager.state.runbook).read_text(errors="replace")
                    except OSError:
                        text = f"{pager.state.runbook}: unreadable"
                    self._send(200, text, "text/plain; charset=utf-8")
                else:
                    self._send(404, "not here: try /\n", "text/plain")

            def do_POST(self) -> None:  # noqa: N802
                length = min(int(self.headers.get("Content-Length") or 0), 65536)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0].rstrip("/")
                said = "recorded"
                if path == "/ack":
                    said = pager.trainee("acknowledged the page", ack=True)
                elif path == "/resolve":
                    pager.trainee("marked the incident resolved", resolve=True)
                elif path == "/action":
                    try:
                        act = json.loads(body or b"{}")
                        what = (f"ran `{printable(str(act.get('command', '?')), 200)}` (exit {act.get('exit')}, "
                                f"{human(float(act.get('seconds', 0)))})")
                    except (ValueError, TypeError, AttributeError):
                        self._send(400, "a JSON object with command, exit and seconds\n", "text/plain")
                        return
                    pager.trainee(what)
                else:
                    self._send(404, "try POST /ack, /resolve or /action\n", "text/plain")
                    return
                if "json" in (self.headers.get("Accept") or "") or path == "/action":
                    self._send(200, json.dumps({"ok": said in ("acknowledged", "recorded"), "said": said}),
                               "application/json")
                else:  # a button on the page: back to it
                    self.send_response(303)
                    self.send_header("Location", "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        super().__init__(Handler, "shadow-pager", host, port)

    # -- what the trainee and the harness tell it ----------------------------------------------------
    def trainee(self, what: str, ack: bool = False, resolve: bool = False, at: float | None = None) -> str:
        """Record what the trainee did; for an acknowledgement, say what became of it."""
        now = time.monotonic() if at is None else at
        with self.lock:
            if ack:
                if not self.state.pages:
                    return "nothing has paged yet: nothing to acknowledge"
                if self.state.acked is not None:
                    return "already acknowledged"
                self.state.acked = now
            if resolve:
                self.state.resolved_by_trainee = self.state.resolved_by_trainee or now
            self.state.log.append(Happening(now, "trainee", what))
        return "acknowledged" if ack else "recorded"

    def harness(self, what: str) -> None:
        with self.lock:
            self.state.log.append(Happening(time.monotonic(), "harness", what))

    def page(self, page: dict[str, Any]) -> None:
        with self.lock:
            self.state.pages.append(page)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            st = self.state
            return {"scenario": st.scenario, "runbook": st.runbook, "pages": list(st.pages),
                    "acknowledged": st.acked is not None, "over": st.over, "debrief": list(st.debrief),
                    "log": [{"who": h.who, "what": h.what} for h in st.log]}

    def render(self) -> str:
        """The pager page (``templates/pager.html.j2``, escaped by Jinja2)."""
        from gameday.report.review import templates

        return templates().get_template("pager.html.j2").render(s=self.snapshot())


def announce(pager: Pager, alert: dict[str, Any], receiver: str, status: str, runbook: str, at: str) -> dict[str, Any]:
    """A page as the trainee sees it, on the pager and on the terminal."""
    labels, notes = alert.get("labels", {}), alert.get("annotations", {})
    page = {"alert": str(labels.get("alertname", "?")), "severity": str(labels.get("severity", "?")),
            "summary": printable(str(notes.get("summary") or notes.get("description") or ""), 200),
            "receiver": receiver, "status": status, "at": at}
    pager.page(page)
    bell = "\a" if status == "firing" else ""
    pager.tell(f"{bell}    PAGE [{status.upper()}] {page['alert']} ({page['severity']}) at {receiver}: "
               f"{page['summary']} | runbook {runbook} | pager {pager.url}"
               + ("  (acknowledge there, or: gameday ack)" if status == "firing" else ""))
    return page


def open_pager(root: Path, reports: Path) -> Pager:
    """A session's pager, started; its address goes to ``REPORTS/shadow.json`` for ``gameday ack`` and ``do``."""
    pager = Pager(root).start()
    reports.mkdir(parents=True, exist_ok=True)
    (reports / PAGER_FILE).write_text(json.dumps({"pager": pager.url, "pid": os.getpid()}) + "\n")
    return pager


def close_pager(pager: Pager, reports: Path, linger: float, say: Callable[[str], None]) -> None:
    """The session's end: the pager stays up ``linger`` seconds for the debrief (Ctrl-C ends that wait), then goes,
    and its address file with it."""
    if linger > 0:
        say(f"gameday shadow: the pager stays up {linger:g}s more for the debrief: {pager.url}")
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(linger)
    pager.stop()
    (reports / PAGER_FILE).unlink(missing_ok=True)


def helper(command: str, reports: Path, cmd: list[str]) -> int:
    """``gameday ack`` and ``gameday do -- CMD``: the trainee's side, talking to the running exercise's pager."""
    import subprocess
    from urllib.parse import urlsplit

    import requests

    where = reports / PAGER_FILE
    try:
        url = json.loads(where.read_text())["pager"]
    except (OSError, ValueError, KeyError, TypeError):
        print(f"gameday {command}: no shadow exercise is running ({where} is missing or unreadable)")
        return 2
    if urlsplit(url).hostname not in ("127.0.0.1", "::1", "localhost"):
        print(f"gameday {command}: {where} names a pager off loopback ({printable(url, 80)}): refused")
        return 2
    session = requests.Session()
    session.trust_env = False
    try:
        if command == "ack":
            answer = session.post(f"{url}/ack", headers={"Accept": "application/json"}, timeout=5)
            answer.raise_for_status()
            said = answer.json().get("said", "?")
            print(f"gameday ack: {printable(str(said), 80)} (pager {url})")
            return 0 if said == "acknowledged" else 1
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        if not cmd:
            print("gameday do: no command: gameday do -- curl -sS \"$GATEWAY/health\"")
            return 2
        env = {**os.environ, **session.get(f"{url}/env", timeout=5).json()}
    except requests.RequestException as exc:
        print(f"gameday {command}: the pager at {url} did not answer ({type(exc).__name__}): is the exercise over?")
        return 2
    argv = ["bash", "-eo", "pipefail", "-c", cmd[0]] if len(cmd) == 1 else cmd
    began = time.monotonic()
    try:
        code = subprocess.run(argv, env=env, check=False).returncode
    except OSError as exc:
        print(f"gameday do: {printable(cmd[0], 80)}: {exc.strerror}")
        code = 127
    took = time.monotonic() - began
    try:
        session.post(f"{url}/action", json={"command": " ".join(cmd), "exit": code, "seconds": round(took, 3)},
                     timeout=5)
    except requests.RequestException:
        print("gameday do: the pager did not take the record of this command (is the exercise over?)")
    return code
