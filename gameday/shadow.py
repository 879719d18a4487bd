"""Shadow mode: a person, not the harness, handles the incident (``pytest gamedays/ -k ID --shadow``).

The fault goes in under load as in any drill, and the page must reach its receiver within its SLA as
always. Then, instead of reverting the fault, the harness hands the incident to the trainee:

- the page is announced on the terminal (alert, severity, summary, runbook) and listed on the pager, a
  small page on loopback (``Pager``) with Acknowledge and Resolve buttons; ``gameday ack`` acknowledges
  from a shell, ``gameday do -- CMD`` runs a command with the target's addresses and puts it on the
  timeline;
- the harness never touches the fault while the trainee works. It watches: the acknowledgement, what
  the trainee did that it can see (the buttons, the helper's commands, the lab supervisor's control
  calls), the fault still acting on the target or not, the service answering again;
- after the priority's acknowledgement time it says the escalation path would now page the secondary;
  at a quarter, half and three quarters of the MTTR goal it hints at the runbook's next section;
- past the safety timeout (twice the MTTR goal by default) it reverts the fault and ends the exercise as
  FAIL, saying so. Ctrl-C and SIGTERM revert as in every drill.

Once the trainee has mitigated, the drill goes on as any other: the resolved page, MTTR against its goal.
The debrief (``debrief``) sets the trainee's times beside the goals and beside the newest automated drill
of the same scenario, in the journal (``shadow``), on the terminal and in the review.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.durations import human
from gameday.errors import DrillFailed, printable
from gameday.lifecycle import LoopbackServer, QuietHandler

ACK_GOALS = {"p0": 120.0, "p1": 300.0, "p2": 1800.0}
"""The alerting policy's acknowledgement times by priority (real time, seconds)."""
ESCALATION = {"p0": "the secondary on-call (then the service owner at 15 min)",
              "p1": "the secondary on-call (then the service owner at 30 min)",
              "p2": "the team's channel lead"}
HINT_AT = (0.25, 0.5, 0.75)
"""Hints come at these shares of the MTTR goal after the page."""
HINT_SECTIONS = ("Triage", "Investigation", "Mitigation")
OWNED_TARGETS = ("lab", "compose")
"""Targets the harness starts and stops itself: the only ones a trainee drills on unless told otherwise."""


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
        self.trainee_log: TraineeLog | None = None
        """The running exercise's gatherer of what the trainee did (``by_person``)."""
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


def runbook_sections(path: Path) -> list[str]:
    """The runbook's ``##`` headings that a hint can point at, in the order of ``HINT_SECTIONS``."""
    try:
        heads = [line[3:].strip() for line in path.read_text(errors="replace").splitlines() if line.startswith("## ")]
    except OSError:
        return []
    return [next(h for h in heads if h.startswith(name)) for name in HINT_SECTIONS
            if any(h.startswith(name) for h in heads)]


class TraineeLog:
    """What the trainee did, onto the drill's timeline: the pager's own record (buttons, ``gameday do``) and what the
    target shows (``trainee_actions``: the lab's control calls, the engine's container events), each once, at the
    time it happened. Gathered while the harness waits, and once more at the end of the exercise."""

    def __init__(self, drill: Any, pager: Pager, since: float) -> None:
        self.drill, self.pager, self.since = drill, pager, since
        self.actions = getattr(drill.target, "trainee_actions", None)
        self.seen_log = 0
        self.seen_actions: set[tuple[float, str]] = set()
        self.asked = float("-inf")

    def gather(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.actions is not None and (force or now - self.asked >= 1.0):  # an engine call: once a second
            self.asked = now
            for t, what in self.actions(self.since):
                if (t, what) not in self.seen_actions:
                    self.seen_actions.add((t, what))
                    self.pager.trainee(what, at=t)
        with self.pager.lock:
            fresh = self.pager.state.log[self.seen_log:]
            self.seen_log = len(self.pager.state.log)
        for h in fresh:
            if h.who == "trainee":
                self.drill.events.noted.fire(phase=self.drill.phase, t=self.drill.clock.from_mono(h.t),
                                             note=f"shadow: the trainee {h.what}")


def by_person(drill: Any, pager: Pager, safety: float) -> None:
    """The recover phase of a shadow exercise: the trainee mitigates; the harness watches, hints, escalates, and
    after ``safety`` seconds (drill clock) from the page reverts the fault itself and FAILs the exercise."""
    sc, target, fault = drill.scenario, drill.target, drill.fault
    page_t = drill.record.marks["t_notified"]
    scale = drill.ctx.time_scale
    ack_goal = ACK_GOALS.get(sc.priority, 300.0) / scale
    goal = drill.scaled.mttr_goal
    hints = list(zip([page_t + share * goal for share in HINT_AT],
                     runbook_sections(drill.ctx.root / sc.runbook), strict=False))
    log = pager.trainee_log = TraineeLog(drill, pager, drill.clock.to_mono(page_t))
    escalated = False
    in_effect_was: bool | None = True

    def note(what: str) -> None:  # on the pager, and on the terminal and the timeline as the drill's note
        pager.harness(what)
        drill.events.noted.fire(phase=drill.phase, t=drill.clock.now(), note=f"shadow: {what}")

    while True:
        now = drill.clock.now()
        log.gather()
        with pager.lock:
            acked = pager.state.acked
        if acked is not None and "t_acked" not in drill.record.marks:
            drill._mark("t_acked", drill.clock.from_mono(acked), "the trainee acknowledged the page")
        if acked is None and not escalated and now - page_t > ack_goal:
            escalated = True
            drill._mark("t_escalated", now, f"no acknowledgement within {human(ack_goal)}")
            note(f"not acknowledged within {human(ack_goal)} ({sc.priority.upper()}): the escalation path would now "
                 f"page {ESCALATION.get(sc.priority, 'the secondary on-call')}")
        while hints and now >= hints[0][0]:
            _, section = hints.pop(0)
            note(f"hint: read the runbook's section '{section}' ({sc.runbook})")
        acting = fault.in_effect() if fault is not None else None
        if acting is False and in_effect_was:
            pager.harness(f"{fault.describe()} no longer acts on {sc.fault.target}")
            drill.events.noted.fire(phase=drill.phase, t=now, note=f"shadow: {fault.describe()} no longer acts "
                                                                   f"on {sc.fault.target}")
        in_effect_was = acting
        if acting is not True and target.is_running(sc.fault.target) and drill._sli_healthy():
            log.gather(force=True)  # what the trainee did up to now, before saying who mitigated
            with pager.lock:
                acted = any(h.who == "trainee" and h.what != "acknowledged the page" for h in pager.state.log)
            # what was seen, not what was hoped: a service its platform brought back was not the trainee's doing
            who = ("the trainee mitigated" if acted else
                   "mitigated with no action of the trainee's seen (its platform, or commands outside `gameday do`)")
            drill._mark("t_mitigated", drill.clock.now(), f"{who}: {sc.fault.target} answers again"
                        + ("" if acting is None else " and the fault no longer acts"))
            pager.harness("mitigated: the service answers again; now the resolved page")
            return
        if now - page_t > safety:
            log.gather(force=True)
            fault.revert()
            drill._mark("t_safety_revert", drill.clock.now(),
                        f"safety timeout: the harness reverted {fault.describe()}")
            note(f"safety timeout of {human(safety)} after the page: the harness reverted {fault.describe()} and "
                 "ends the exercise")
            raise DrillFailed(f"shadow exercise: not mitigated within the safety timeout of {human(safety)} after "
                              f"the page; the harness reverted {fault.describe()}")
        drill._progress("shadow: waiting for the trainee to " + ("mitigate" if acked is not None else "acknowledge"),
                        deadline=safety, started=page_t)
        time.sleep(drill.ctx.ask)


def assert_acknowledged(drill: Any) -> None:
    """The trainee's first duty: a page not acknowledged within the priority's time FAILs the exercise, however
    the incident ended (its platform may have healed it meanwhile)."""
    marks, scale, prio = drill.record.marks, drill.ctx.time_scale, drill.scenario.priority
    goal = ACK_GOALS.get(prio, 300.0)
    if "t_acked" not in marks:
        raise DrillFailed(f"shadow exercise: the page was never acknowledged ({prio.upper()} acknowledgement time "
                          f"{human(goal)})")
    took = (marks["t_acked"] - marks["t_notified"]) * scale
    if took > goal:
        raise DrillFailed(f"shadow exercise: the page was acknowledged after {human(took)}, beyond the "
                          f"{prio.upper()} acknowledgement time of {human(goal)} (real time)")


def debrief(record: Any, automated: dict[str, Any] | None) -> dict[str, Any]:
    """The trainee's times beside the goals (real time) and beside the newest automated drill of the scenario."""
    m, scale = record.marks, record.time_scale
    page = m.get("t_notified")

    def real(a: str, b: float | None) -> float | None:
        return None if b is None or a not in m else (m[a] - b) * scale

    ack_goal = ACK_GOALS.get(record.priority, 300.0)
    t = record.timings
    out = {
        "acknowledge": real("t_acked", page), "acknowledge_goal": ack_goal,
        "mitigate": real("t_mitigated", page) if "t_safety_revert" not in m else None,
        "mttr": None if t.mttr is None else t.mttr * scale, "mttr_goal": record.goals.get("mttr", 0.0) * scale,
        "escalated": "t_escalated" in m, "safety_revert": "t_safety_revert" in m,
        "automated": automated,
    }
    out["acknowledge_met"] = out["acknowledge"] is not None and out["acknowledge"] <= ack_goal
    out["mttr_met"] = out["mttr"] is not None and out["mttr"] <= out["mttr_goal"]
    return out


def debrief_lines(d: dict[str, Any]) -> list[str]:
    auto = d.get("automated") or {}

    def row(name: str, value: float | None, goal: float | None, met: bool | None, auto_v: float | None) -> str:
        verdict = "" if met is None else ("  met" if met else "  MISSED")
        beside = f"   automated drill: {human(auto_v)}" if auto_v is not None else ""
        return (f"  {name:<12} {human(value) if value is not None else 'never':>8}"
                f"{' / goal ' + human(goal) if goal else ''}{verdict}{beside}")

    lines = ["shadow exercise debrief (real time)",
             row("acknowledge", d["acknowledge"], d["acknowledge_goal"], d["acknowledge_met"], None),
             row("mitigate", d["mitigate"], None, None, auto.get("mitigate")),
             row("recover", d["mttr"], d["mttr_goal"], d["mttr_met"], auto.get("mttr"))]
    if d["escalated"]:
        lines.append("  the acknowledgement time passed: the escalation path paged the secondary")
    if d["safety_revert"]:
        lines.append("  not mitigated: the harness reverted the fault at the safety timeout")
    if auto:
        lines.append(f"  automated drill compared: {auto.get('journal', '?')}")
    return lines


def newest_automated(drills: Path, scenario: str, exclude: Path | None = None) -> dict[str, Any] | None:
    """The newest passed drill of ``scenario`` that was not a shadow exercise: its real-time mitigation and MTTR."""
    for path in sorted(drills.glob(f"{scenario}-*.json"), reverse=True):
        if path == exclude or path.name.endswith("-trend.json"):
            continue
        try:
            j = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if j.get("shadow") or j.get("verdict") != "PASS":
            continue
        marks, scale = j.get("marks", {}), float(j.get("time_scale") or 1.0)
        page, mitigated = marks.get("t_notified", {}).get("t"), marks.get("t_mitigated", {}).get("t")
        mttr = (j.get("timings") or {}).get("mttr")
        return {"journal": path.name, "mitigate": None if page is None or mitigated is None
                else max(0.0, mitigated - page) * scale, "mttr": None if mttr is None else mttr * scale}
    return None


def attach(pager: Pager, scenario: Any, target: Any, events: Any, tell: Any) -> Pager:
    """Ready the pager for one exercise: this scenario, the target's addresses for ``gameday do``, and listeners
    that put each page on it (firing, then resolved) and the debrief at the end. ``tell`` writes a terminal line."""
    with pager.lock:
        pager.state = ShadowState(scenario=scenario.id, runbook=scenario.runbook, env=target.runbook_env())
    pager.tell, pager.trainee_log = tell, None

    def marked(name: str, alert: str | None = None, **_: Any) -> None:
        if name not in ("t_notified", "t_resolved") or alert is None:
            return
        status = "firing" if name == "t_notified" else "resolved"
        for note in reversed(target.receiver.received()):
            found = note.alerts_named(alert, status)
            if found:
                announce(pager, found[0], note.receiver, status, scenario.runbook,
                         time.strftime("%H:%M:%S", time.localtime(note.arrived_wall)))
                return

    def finished(record: Any) -> None:
        lines = debrief_lines(record.shadow) if record.shadow else []
        with pager.lock:
            pager.state.over = True
            pager.state.debrief = lines + [f"verdict {record.verdict}" + (f": {record.reasons[0]}"
                                                                          if record.reasons else "")]
        for line in lines:
            tell(f"    {line}")
        tell(f"    pager (debrief): {pager.url}")

    events.marked.add_listener(marked)
    events.finished.add_listener(finished)
    tell(f"  shadow exercise {scenario.id}: you handle this incident. Pager: {pager.url}  (acknowledge there or "
         f"with `gameday ack`; run commands with `gameday do -- CMD`; runbook {scenario.runbook})")
    return pager


def helper(command: str, reports: Path, cmd: list[str]) -> int:
    """``gameday ack`` and ``gameday do -- CMD``: the trainee's side, talking to the running exercise's pager."""
    import os
    import subprocess
    from urllib.parse import urlsplit

    import requests

    where = reports / "shadow.json"
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
