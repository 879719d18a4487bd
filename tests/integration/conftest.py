"""Integration tests run real Prometheus, Alertmanager, Locust and lab services on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from tests.conftest import ROOT

SHARED_SCALE = "20"
"""The time scale of a drill that must page within ServiceDown's one-minute SLA while other tests share the machine.
At 60 that SLA is one second and the pipeline's ceiling 0.75 s (scrape, evaluation, ``for`` and group_wait, all
scaled): CI once saw a page 0.4 s behind its group_wait on a loaded machine, a true FAIL of a sound pipeline. At 20
the ceiling is 2.25 s of a 3 s SLA. The README's scale 60 is drilled in the ``whole_machine`` group, alone."""


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if item.path.parent != here:  # a conftest's hook sees the whole session's items
            continue
        item.add_marker(pytest.mark.lab)


@dataclass
class GamedayRun:
    proc: subprocess.CompletedProcess[str]
    reports: Path
    allure: Path

    @property
    def out(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def journals(self) -> dict[str, dict]:
        out = {}
        for path in sorted((self.reports / "drills").glob("*.json")):
            data = json.loads(path.read_text())
            out[data["scenario"]] = data
        return out

    def allure_results(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in self.allure.glob("*-result.json")]


def gameday_argv(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", str(ROOT / "gamedays"), "--rootdir", str(ROOT),
            "-c", str(ROOT / "pyproject.toml"), "--reports", str(tmp_path / "reports"),
            "--alluredir", str(tmp_path / "allure"), "-p", "no:cacheprovider", *args]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention ``text`` (a drill's reports folder: its lab's processes,
    Locust and stress-ng all name it)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def gameday_env() -> dict[str, str]:
    return {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def run_gameday(tmp_path):
    """Run ``pytest gamedays/`` as a user would, in its own process, with its own reports folder."""

    def run(*args: str, timeout: float = 300) -> GamedayRun:
        proc = subprocess.run(gameday_argv(tmp_path, *args), cwd=tmp_path, env=gameday_env(), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return GamedayRun(proc, tmp_path / "reports", tmp_path / "allure")

    return run


def page_after_reset_is_new(target) -> None:
    """An alert paged before the clean slate (and never resolved) pages again at once after it, as a new
    incident: Alertmanager must not remember the earlier page and hold the new one for ``repeat_interval``."""
    import time
    from datetime import datetime

    import requests

    name = f"GamedayResetProbe{int(time.time() * 1000) % 100000}"

    def fire_and_wait(timeout: float = 5.0) -> bool:
        since = time.monotonic()
        alert = {"labels": {"alertname": name, "severity": "critical"},
                 "startsAt": datetime.now(UTC).isoformat()}
        requests.post(f"{target.alertmanager.base_url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
        deadline = since + timeout
        while time.monotonic() < deadline:
            if any(n.receiver == "pager" and any(a["labels"].get("alertname") == name and a["status"] == "firing"
                                                 for a in n.payload.get("alerts", []))
                   for n in target.receiver.received(since=since)):
                return True
            time.sleep(0.05)
        return False

    assert fire_and_wait(), "the first page never came"
    target.reset_alerting()
    assert fire_and_wait(), "after the clean slate the same alert did not page again: Alertmanager still " \
                            "remembered the earlier page"


BREAKS = {  # drill -> (its alert, the rule file, a threshold it can never cross)
    "high-error-rate": ("HighErrorRate", "inference.yml", "> 0.05", "> 1.05"),  # a ratio never exceeds 100%
    "service-outage": ("ServiceDown", "inference.yml", "== 0", "== 2"),  # up is 0 or 1
    "latency-degradation": ("SLOLatencyP99Violation", "inference.yml", ") > 0.5", ") > 500"),  # no wait of 500 s
    "traffic-surge": ("ModelBackendSaturated", "inference.yml", "> 0.9", "> 1.5"),  # no slot is busier than always
    "cpu-exhaustion": ("HighCPUUsage", "resources.yml", "> 0.8", "> 8"),  # the quota caps use at 1
    "memory-exhaustion": ("HighMemoryUsage", "resources.yml", "> 0.9", "> 9"),  # the limit caps the working set
}
REFUSED_IN_PREFLIGHT = {"high-error-rate"}
"""A ratio threshold above the fault's error share is refused before the fault (``ratewindow``); the others are
thresholds preflight cannot judge, so the drill injects and waits, and the alert never fires."""


def broken_rules(tmp_path: Path, *drills: str) -> Path:
    """The lab's rules with the threshold of each of ``drills``' alerts out of reach."""
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    for src in (ROOT / "config/prometheus/rules").glob("*.yml"):
        shutil.copy(src, rules)
    for drill in drills or ("high-error-rate",):
        alert, name, old, new = BREAKS[drill]
        text = (rules / name).read_text()
        assert text.count(old) == 1, (alert, old)
        (rules / name).write_text(text.replace(old, new))
    return rules



def read_until(proc: subprocess.Popen[str], phase: str = "detect", within: float = 120) -> list[str]:
    """A drill's console read until the line that starts ``phase`` (``▸ detect``: its fault is in), which must come."""
    seen: list[str] = []
    deadline = time.monotonic() + within
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if f"▸ {phase}" in line or time.monotonic() > deadline:
            break
    assert any(f"▸ {phase}" in line for line in seen), "".join(seen)
    return seen


def drill_until_detect(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(gameday_argv(tmp_path, *args), cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    return proc, read_until(proc)


