"""Mutants drilled side by side: one pytest session per worker (``gameday.mutate.session``), each with a target
of its own (a lab; a team's shadow pair), started once, that loads each mutant's config in turn. Every session
has the whole list and claims the next mutant no other has claimed (a folder made in ``claims/``, which only one
can make), so a worker that drew short mutants takes more of them. Each session's verdicts are read as they
come, and a mutant is handed back (``done``) as soon as its last drill is in."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.core.signals import Interrupted
from gameday.mutate.mutants import Mutant

TEST_FILE = ('"""Written by gameday mutate: each (mutant, covering drill) of --mutants as a test."""\n'
             "from gameday.mutate.session import drill_mutant as test_mutant  # noqa: F401\n")
PER_DRILL = 300.0
"""The longest a session may take per drill of its plan before it is stopped (a drill is bounded far below)."""


@dataclass
class Stack:
    """Where a target plugin drills the mutants (``pytest_gameday_mutation_stack``): the config folder it runs, in
    the lab's layout (``prometheus/rules``, ``prometheus/prometheus.yml``, ``alertmanager/alertmanager.yml``), and
    the pytest arguments that give a session that target with a mutant's copy of it (``args(config_copy)``)."""

    config_dir: Path
    args: Callable[[Path], list[str]]
    time_scale: float | None = None
    """The scale its drills must run at (a team's services run in real time); None: the command's."""
    workers: int | None = None
    """The most sessions it takes side by side (one, where every session would fault the same services)."""
    said: list[str] = field(default_factory=list)
    """What it read to make the config folder, said before the mutants."""
    name: str = "lab"


def lab_stack(config_dir: Path) -> Stack:
    """The embedded lab: each session a lab of its own, with Prometheus's admin API on."""
    return Stack(config_dir, lambda first: ["-p", "gameday.lab.mutation", "--lab-config", str(first), "--rules",
                                            str(first / "prometheus" / "rules")])


@dataclass
class Job:
    """One mutant to drill: its copy of the config and the scenarios that cover it."""

    mutant: Mutant
    scenarios: list[str]
    config: Path
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """scenario -> the session's line (verdict, reasons, started, ended)"""
    scale: float | None = None
    """The time scale its drills run at, on labs of that scale; None: the run's. A mutant whose drills fall in
    two scale classes is two jobs, one per class."""

    @property
    def claim(self) -> str:
        """The name a session claims it by (its mutant, and its scale class where it has one)."""
        return claim_name(self.mutant.id + ("" if self.scale is None else f"@{self.scale:g}"))

    @property
    def complete(self) -> bool:
        return all(s in self.verdicts for s in self.scenarios)

    @property
    def seconds(self) -> float:
        return sum(max(0.0, v.get("ended", 0.0) - v.get("started", 0.0)) for v in self.verdicts.values())

    def journals(self) -> dict[str, dict[str, Any]]:
        """The verdicts of the drills that ran (a drill skipped once the mutant was killed is left out)."""
        return {s: v for s, v in self.verdicts.items() if v.get("verdict") != "NOT RUN"}


def claim_name(text: str) -> str:
    return text.replace(":", "-").replace("/", "-")


def plans(jobs: list[Job], workers: int, batch: int | None = None) -> list[list[Job]]:
    """The sessions to run: ``batch`` mutants each, in order (a fresh lab for each batch); or, with no batch, for
    each scale class (the longest drills' first), one session per worker, each with every job of its class,
    claiming them one by one. The classes' sessions come in turn (the first of each, then the second ...): a
    worker that finds its class done starts a session of the next class that has work left."""
    if batch:
        return [jobs[i:i + batch] for i in range(0, len(jobs), batch)]
    classes: dict[float | None, list[Job]] = {}
    for job in jobs:
        classes.setdefault(job.scale, []).append(job)
    order = sorted(classes, key=lambda k: -(k or 0.0))
    each = [[list(classes[k]) for _ in range(max(1, min(workers, len(classes[k]))))] for k in order]
    return [rounds[i] for i in range(max(len(r) for r in each)) for rounds in each if i < len(rounds)]


@dataclass
class _Session:
    number: int
    plan: list[Job]
    folder: Path
    proc: subprocess.Popen[bytes] | None = None
    deadline: float = 0.0
    over: bool = False
    """Stopped past its bound."""
    read: int = 0
    """How far its results file has been read."""

    @property
    def results(self) -> Path:
        return self.folder / "results.jsonl"

    @property
    def log(self) -> Path:
        return self.folder / "pytest.log"

    @property
    def scale(self) -> float | None:
        return self.plan[0].scale

    def start(self, root: Path, scenarios: Path, scale: float, claims: Path, original: Path | None,
              stack: Stack, extra: list[str]) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)  # an earlier run's verdicts are not this one's
        self.folder.mkdir(parents=True)
        (self.folder / "test_mutants.py").write_text(TEST_FILE)
        (self.folder / "plan.json").write_text(json.dumps(
            [{"id": j.mutant.id, "claim": j.claim, "config": str(j.config), "alerts": j.mutant.alerts,
              "scenarios": j.scenarios} for j in self.plan]))
        scale = self.scale or scale
        first = self.plan[0].config
        argv = [sys.executable, "-m", "pytest", str(self.folder / "test_mutants.py"), "-q", "-p", "no:cacheprovider",
                "-p", "gameday.mutate.session", *stack.args(first), "--rootdir", str(root), "-c", os.devnull,
                "--scenarios", str(scenarios), "--time-scale", f"{scale:g}", *extra,
                "--reports", str(self.folder / "reports"), "--no-live",
                "--late-page-wait", "0", "--mutants", str(self.folder / "plan.json"), "--mutant-results",
                str(self.results), "--mutant-claims", str(claims),
                *(["--mutant-original", str(original)] if original is not None else [])]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, cwd=root, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.deadline = time.monotonic() + PER_DRILL * sum(len(j.scenarios) for j in self.plan) + 120

    def take(self) -> list[Job]:
        """The jobs whose last verdict has come in since the last look."""
        by_id = {j.claim: j for j in self.plan}
        finished = []
        if not self.results.exists():
            return finished
        with self.results.open() as f:
            f.seek(self.read)
            while (line := f.readline()).endswith("\n"):
                self.read = f.tell()
                got = json.loads(line)
                job = by_id.get(got.get("claim", claim_name(got.get("mutant", ""))))
                if job is None:
                    continue
                job.verdicts[got["scenario"]] = got
                if job.complete:
                    finished.append(job)
        return finished

    def said(self) -> str:
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            lines = []
        return " / ".join(lines[-3:]) or "nothing"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # each session reverts its fault on SIGTERM
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def drill_all(jobs: list[Job], root: Path, scenarios: Path, work: Path, scale: float, workers: int,
              done: Callable[[Job], None], batch: int | None = None, original: Path | None = None,
              stack: Stack | None = None, extra: list[str] | None = None) -> None:
    """Drill every job, ``workers`` sessions at a time; ``done(job)`` as each mutant's last verdict comes in. A job
    still without its verdicts when every session has ended (or was stopped past its bound) is handed back with an
    ERROR for each drill that did not report, naming what its session's pytest said last. ``original``: the
    config as it is, which a session checks a kill by a late page against; ``stack``: where (the lab by default);
    ``extra``: more pytest arguments for every session."""
    stack = stack or lab_stack(original or jobs[0].config)
    claims = work / "claims"
    shutil.rmtree(claims, ignore_errors=True)  # an earlier run's claims would leave every mutant unclaimed
    claims.mkdir(parents=True)
    queue = [_Session(i, plan, work / f"session-{i}") for i, plan in enumerate(plans(jobs, workers, batch), 1)]
    sessions = list(queue)
    running: list[_Session] = []
    handed: set[int] = set()

    def interrupted(signum: int, frame: Any) -> None:  # SIGTERM as Ctrl-C: the sessions are stopped below
        raise Interrupted(signum)

    before = signal.signal(signal.SIGTERM, interrupted)

    def hand(job: Job) -> None:
        if id(job) not in handed:
            handed.add(id(job))
            done(job)

    try:
        while queue or running:
            while queue and len(running) < workers:
                session = queue.pop(0)
                if all((claims / j.claim).exists() for j in session.plan):
                    continue  # its class has been claimed whole: no lab to start for it
                session.start(root, scenarios, scale, claims, original, stack, extra or [])
                running.append(session)
            for session in list(running):
                for job in session.take():
                    hand(job)
                assert session.proc is not None
                if time.monotonic() > session.deadline:
                    session.stop()
                    session.over = True
                if session.proc.poll() is not None:
                    for job in session.take():
                        hand(job)
                    running.remove(session)
            time.sleep(0.2)
    finally:
        for session in running:  # each reverts its fault on SIGTERM
            session.stop()
        signal.signal(signal.SIGTERM, before)
    for job in jobs:
        if id(job) in handed:
            continue
        claim = claims / job.claim
        owner = next((s for s in sessions if s.proc is not None and (claim / str(s.proc.pid)).exists()), None)
        why = ("no session took it" if owner is None else
               f"session {owner.number} {'was stopped past its bound' if owner.over else 'ended'}; pytest said: "
               f"{owner.said()}")
        for sid in job.scenarios:
            job.verdicts.setdefault(sid, {"verdict": "ERROR", "reasons": [f"no verdict: {why}"]})
        hand(job)
