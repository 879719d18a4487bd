"""A runbook's drilled mitigation: the commands of a marked section, run as written, one step per code block.

In the runbook (Markdown), the section is marked with HTML comments, invisible when rendered; a target's name
after the mitigation's makes it that target's version (the lab's commands differ from a container stack's)::

    <!-- gameday:mitigation restart-gateway lab -->
    ```bash
    curl -sSf -X POST "$SUPERVISOR/services/inference-gateway/restart"
    ```
    <!-- /gameday:mitigation -->

Each fenced ``bash`` or ``sh`` block between the markers is one step. A scenario with ``recovery: {mode:
runbook, mitigation: restart-gateway}`` runs the steps in order with ``bash -eo pipefail``, from the project
folder, with the target's addresses in the environment the runbook documents (``GATEWAY``, ``SUPERVISOR`` ...),
and stops at the first step that fails: that step is what the FAIL names.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTION = re.compile(r"<!--\s*gameday:mitigation\s+(\S+?)(?:\s+(\S+?))?\s*-->(.*?)<!--\s*/gameday:mitigation\s*-->",
                     re.S)
BLOCK = re.compile(r"^```(?:bash|sh)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "DOCKER_HOST")
"""The harness's own environment a step sees; the rest is the target's (no credentials of the harness leak in)."""


@dataclass(frozen=True)
class Step:
    number: int
    command: str

    def headline(self, width: int = 80) -> str:
        """The step's first command line, for a one-line report."""
        first = next((line.strip() for line in self.command.splitlines() if line.strip()
                      and not line.strip().startswith("#")), "")
        return first if len(first) <= width else first[: width - 3] + "..."


@dataclass(frozen=True)
class StepResult:
    step: Step
    exit_code: int | None
    """None when the step ran past its time limit and was killed."""
    seconds: float
    output: str
    """The end of what the step printed (stdout and stderr)."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class NotForTarget(ValueError):
    """The runbook marks this mitigation, but not for this target."""


def sections(text: str) -> dict[str, dict[str | None, list[Step]]]:
    """Every marked mitigation of a runbook's text: by name, then by target (None: any target), with its steps."""
    out: dict[str, dict[str | None, list[Step]]] = {}
    for name, target, body in SECTION.findall(text):
        steps = [Step(n, block) for n, block in enumerate(BLOCK.findall(body), start=1)]
        out.setdefault(name, {})[target or None] = steps
    return out


def mitigation_steps(path: Path, name: str, target: str | None = None) -> list[Step]:
    """The steps of mitigation ``name`` in the runbook at ``path``: the version marked for ``target``, else the one
    for any target (``target`` None: any version). ``ValueError`` says why there are none; ``NotForTarget`` when
    only other targets have a version."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the runbook: {type(exc).__name__}") from None
    found = sections(text)
    if name not in found:
        have = ", ".join(sorted(found)) or "none"
        raise ValueError(f"no mitigation {name!r} marked in the runbook (<!-- gameday:mitigation {name} --> ... "
                         f"<!-- /gameday:mitigation -->); marked: {have}")
    versions = found[name]
    steps = versions.get(target, versions.get(None)) if target is not None else next(iter(versions.values()))
    if steps is None:
        raise NotForTarget(f"mitigation {name!r} is marked only for {', '.join(sorted(str(t) for t in versions))}, "
                           f"not for the {target} target")
    if not steps:
        raise ValueError(f"mitigation {name!r} has no ```bash block: nothing to run")
    return steps


def run_steps(steps: list[Step], env: dict[str, str], cwd: Path, timeout: float,
              on_step: object = None) -> list[StepResult]:
    """Run the steps in order until one fails; each gets ``timeout`` seconds. ``on_step(result)`` after each."""
    base = {k: v for k, v in os.environ.items() if k in KEEP_ENV}
    results = []
    for step in steps:
        began = time.monotonic()
        code, output = _run(step.command, base | env, cwd, timeout)
        result = StepResult(step, code, time.monotonic() - began, output.strip()[-400:])
        results.append(result)
        if callable(on_step):
            on_step(result)
        if not result.ok:
            break
    return results


def _run(command: str, env: dict[str, str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """One step, under ``gameday.drill.steprun`` in a session of its own: the step ends when its bash exits (whatever it
    left in the background is ended with it), and a step past its time is ended whole (its curl too). Its output
    goes to a file, so a background job that holds it open cannot make the step look unfinished."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-m", "gameday.drill.steprun", "--", command], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            code: int | None = proc.wait(timeout=timeout)
            suffix = ""
        except subprocess.TimeoutExpired:
            _end(proc)
            code, suffix = None, f"\n(killed after {timeout:g}s)"
        except BaseException:  # Ctrl-C or SIGTERM in the middle of a step: the step goes too, then the interruption
            _end(proc)
            raise
        return code, _tail(out) + suffix


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Ask the step's runner to end everything it started, then make sure of its whole session."""
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=6)
    _kill_group(proc.pid)
    proc.wait()


def _tail(out: Any, keep: int = 64 * 1024) -> str:
    """The last ``keep`` bytes a step wrote, as text."""
    size = out.seek(0, os.SEEK_END)
    out.seek(max(0, size - keep))
    return out.read().decode(errors="replace")


def _kill_group(pgid: int) -> None:
    """The step's whole session; it may have ended on its own a moment before."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
