"""Shadow exercises end to end: scripted trainees in a real terminal (tmux) and on the pager in headless Chromium."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameday.scenario.runbook import mitigation_steps
from tests.browser import CHROMIUM_ARGS, chromium
from tests.conftest import ROOT
from tests.integration.conftest import SHARED_SCALE, gameday_argv, processes_mentioning


class Tmux:
    """A tmux server of the test's own (its own socket): windows are real terminals."""

    def __init__(self, name: str) -> None:
        if shutil.which("tmux") is None:
            pytest.skip("no tmux on this machine: ./run tests installs it as root")
        self.base = ["tmux", "-L", name]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True, timeout=10).stdout

    def screen(self, window: str) -> str:
        return self("capture-pane", "-p", "-J", "-S", "-5000", "-t", window)

    def wait_for(self, window: str, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (seen := self.screen(window)):
                return seen
            time.sleep(0.5)
        raise AssertionError(f"{text!r} never showed in tmux window {window}:\n{self.screen(window)[-3000:]}")

    def type(self, window: str, line: str) -> None:
        self("send-keys", "-t", window, "-l", line)
        self("send-keys", "-t", window, "Enter")

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=10)


def wait_for_file(path: Path, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)
    return path


def test_a_trainee_acknowledges_mitigates_with_the_runbook_and_gets_a_debrief(run_gameday, tmp_path):
    from playwright.sync_api import sync_playwright

    # an automated drill of the same scenario first: the debrief sets the trainee beside it
    auto = run_gameday("-k", "gateway-down-runbook", "--time-scale", SHARED_SCALE)
    assert auto.proc.returncode == 0, auto.out
    reports = tmp_path / "reports"
    steps = mitigation_steps(ROOT / "runbooks/003-service-down.md", "restart-gateway", "lab")
    tmux = Tmux(f"gameday-shadow-{tmp_path.name}")
    try:
        # the exercise in one terminal, at time scale 10: P0's 2-minute acknowledgement is 12 s here
        argv = gameday_argv(tmp_path, "-k", "gateway-down-runbook", "--time-scale", "10", "--shadow",
                            "--shadow-linger", "30")
        tmux("new-session", "-d", "-s", "ex", "-n", "exercise", "-x", "220", "-y", "50",
             f"cd {shlex.quote(str(tmp_path))} && env -u CI {shlex.join(argv)}; echo EXERCISE-ENDED; sleep 300")
        tmux("new-window", "-t", "ex:", "-n", "trainee", f"cd {shlex.quote(str(tmp_path))} && exec bash --norc")
        url = json.loads(wait_for_file(reports / "shadow.json", 120).read_text())["pager"]
        gameday = Path(sys.executable).with_name("gameday")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#ack", timeout=90_000)  # the page refreshes itself until the page comes
            assert "FIRING" in page.inner_text("#pages") and "ServiceDown" in page.inner_text("#pages")
            page.click("#ack")
            page.wait_for_selector("text=Acknowledged.", timeout=10_000)
            for step in steps:  # the runbook's commands, as written, typed in the trainee's terminal
                script = tmp_path / f"step-{step.number}.sh"
                script.write_text(step.command)
                tmux.type("ex:trainee", f'{gameday} do --reports {reports} -- "$(cat {script})"')
            deadline = time.monotonic() + 90
            while "RESOLVED" not in page.inner_text("#pages") or not page.query_selector("#debrief"):
                assert time.monotonic() < deadline, page.inner_text("body")
                time.sleep(1)
                page.reload()
            debrief = page.inner_text("#debrief")
            browser.close()
        screen = tmux.wait_for("ex:exercise", "EXERCISE-ENDED", 120)
    finally:
        tmux.close()
    assert "acknowledge" in debrief and "verdict PASS" in debrief and "automated drill" in debrief, debrief
    assert "PAGE [FIRING] ServiceDown (critical) at pager" in screen and "PAGE [RESOLVED] ServiceDown" in screen
    assert "shadow exercise debrief (real time)" in screen and "1 passed" in screen, screen[-3000:]
    (journal,) = [json.loads(f.read_text()) for f in (reports / "drills").glob("gateway-down-runbook-*.json")
                  if json.loads(f.read_text()).get("shadow")]
    assert journal["verdict"] == "PASS"
    d = journal["shadow"]
    assert d["acknowledge"] is not None and d["acknowledge_met"] and d["mttr_met"] and not d["safety_revert"]
    assert d["automated"]["journal"].startswith("gateway-down-runbook-")
    notes = [e["note"] for e in journal["events"] if e.get("event") == "note"]
    assert "shadow: the trainee acknowledged the page" in notes
    assert any(n.startswith("shadow: the trainee ran `") and "(exit 0" in n for n in notes), notes
    assert "shadow: the trainee called the supervisor: POST /services/inference-gateway/restart" in notes, notes
    (mitigated,) = [e["detail"] for e in journal["events"] if e.get("name") == "t_mitigated"]
    assert mitigated.startswith("the trainee mitigated"), mitigated
    assert journal["marks"]["t_acked"]["t"] < journal["marks"]["t_mitigated"]["t"] < journal["marks"]["t_resolved"]["t"]


def test_a_trainee_who_never_acts_is_escalated_then_reverted_and_nothing_is_left(run_gameday):
    run = run_gameday("-k", "gateway-down-runbook", "--time-scale", "60", "--shadow", "--shadow-timeout", "5m",
                      "--shadow-linger", "0")
    assert run.proc.returncode == 1, run.out
    assert "shadow: not acknowledged within 2.0s (P0): the escalation path would now page the secondary" in run.out
    assert "shadow: safety timeout of 5.0s after the page: the harness reverted kill-service" in run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "FAIL" and "not mitigated within the safety timeout" in journal["reasons"][0]
    assert journal["shadow"]["safety_revert"] and journal["shadow"]["escalated"]
    assert journal["shadow"]["acknowledge"] is None and not journal["shadow"]["acknowledge_met"]
    order = [e["name"] for e in journal["events"] if e.get("event") == "mark"]
    assert order.index("t_notified") < order.index("t_escalated") < order.index("t_safety_revert")
    (result,) = run.allure_results()
    assert result["status"] == "failed", "an exercise the harness had to end never reads passed"
    ledger = [json.loads(line) for line in (run.reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"]
    assert not (run.reports / "shadow.json").exists(), "the pager is gone with the run"
    assert not processes_mentioning(str(run.reports)), "no lab process, stress or load outlives the run"

