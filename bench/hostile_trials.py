"""Hostile trials: the ways an outside tester once made gameday's results lie, repeated, with a count of what went
wrong. Each trial runs ``pytest gamedays/`` in a process of its own, as a user does, and is judged on three counts:

- lies: a verdict that reads PASS (console, journal or Allure) for a drill whose rule can never fire, a drill
  that did not finish reading anything but ERROR, a result lost, a ledger entry closed twice;
- leftovers: a process of the trial, a fault still in (paused container, sidecar, open ledger entry), a stack
  still up after its run died;
- tracebacks: a Python traceback in the run's output.

The trials:

- ``forged-lab-*``: ServiceDown's rule broken, and while the drill waits for its page a hostile local process
  forges it: without the run's secret, with the secret read from the rendered config (as root can), and by
  posting the alert to Alertmanager's open API, which then pages for real;
- ``forged-compose-inside``: the same from inside the backend's container, the system under test itself, with and
  without the secret;
- ``sigstop``: the harness stopped (SIGSTOP) past ``--watchdog`` while a pause is in: the watchdog reverts it,
  and the drill must read ERROR naming the watchdog, with one ledger close;
- ``crashed-worker``: a ``-n 2`` worker killed with SIGKILL mid-drill;
- ``engine-restart``: dockerd stopped and started again while a pause is in;
- ``sigkill-<kind>``: SIGKILL after each container fault went in (``harness_chaos.trial``).

Run: .venv/bin/python bench/hostile_trials.py [--trials N] [--only forged,sigstop,...] [--no-docker]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
import yaml  # noqa: E402
from pytest_argv import gamedays_argv  # noqa: E402

from gameday.faults.ledger import Ledger  # noqa: E402

Outcome = dict[str, list[str]]
ENV = {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}
CONTAINER_KINDS = ("pause-service", "cpu-stress", "packet-loss", "network-disconnect")


def outcome() -> Outcome:
    return {"lies": [], "leftovers": [], "tracebacks": []}


def broken_rules(folder: Path) -> Path:
    rules = folder / "rules"
    shutil.copytree(ROOT / "config/prometheus/rules", rules)
    text = (rules / "inference.yml").read_text()
    (rules / "inference.yml").write_text(text.replace("== 0", "== 2", 1))  # up is 0 or 1: ServiceDown never fires
    return rules


def start(folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(gamedays_argv(folder / "reports", folder / "allure", *args), cwd=folder, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)


def until_line(proc: subprocess.Popen[str], marker: str, timeout: float = 240) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    return seen


def finish(proc: subprocess.Popen[str], seen: list[str], folder: Path, timeout: float = 240) -> str:
    try:
        rest, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    out = "".join(seen) + rest
    (folder / "output.txt").write_text(out)
    return out


def journals(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (folder / "reports" / "drills").glob("*.json")]


def allure(folder: Path) -> list[str]:
    return sorted(json.loads(p.read_text())["status"] for p in (folder / "allure").glob("*-result.json"))


def common_checks(folder: Path, out: str, res: Outcome) -> None:
    """What every trial must leave: no traceback, no open or twice-closed fault, no process of its own."""
    if "Traceback (most recent call last)" in out:
        res["tracebacks"].append(f"a traceback in the output ({folder / 'output.txt'})")
    ledger = Ledger(folder / "reports" / "fault-ledger.jsonl")
    if ledger.pending():
        res["leftovers"].append(f"{len(ledger.pending())} fault(s) still open in the ledger")
    closes: dict[str, int] = {}
    for e in ledger.entries():
        if e["state"] != "injecting":
            closes[e["id"]] = closes.get(e["id"], 0) + 1
    if any(n > 1 for n in closes.values()):
        res["lies"].append("a ledger entry closed twice")
    deadline = time.monotonic() + 30  # a stack's or lab's guard does its last check once its run has ended
    while time.monotonic() < deadline and any(".guard" in a for a in processes_of(folder)):
        time.sleep(0.5)
    for args in processes_of(folder):
        res["leftovers"].append(f"process left: {args[:100]}")


def processes_of(folder: Path) -> list[str]:
    """Command lines of live processes that name the trial's folder."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in args and "hostile_trials" not in args:
            found.append(args)
    return found


def forged_page(way: str, lab: Path) -> None:
    endpoints = json.loads((lab / "endpoints.json").read_text())
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    labels = {"alertname": "ServiceDown", "severity": "critical", "job": "inference-gateway"}
    if way == "via-alertmanager":
        requests.post(f"{endpoints['ALERTMANAGER']}/api/v2/alerts", json=[{"labels": labels, "startsAt": now}],
                      timeout=5)
        return
    headers = {}
    if way == "with-secret":
        am = yaml.safe_load((lab / "config" / "alertmanager.yml").read_text())
        secret = am["receivers"][0]["webhook_configs"][0]["http_config"]["authorization"]["credentials"]
        headers = {"Authorization": f"Bearer {secret}"}
    fingerprint = secrets.token_hex(8)
    for status in ("firing", "resolved"):
        body = {"version": "4", "status": status, "receiver": "pager", "alerts": [
            {"status": status, "labels": labels, "startsAt": now, "fingerprint": fingerprint}]}
        requests.post(f"{endpoints['WEBHOOK']}/pager", json=body, headers=headers, timeout=5)


def judge_forged(folder: Path, out: str, res: Outcome) -> None:
    verdicts = [j["verdict"] for j in journals(folder)]
    if verdicts != ["FAIL"] or "verdict PASS" in out or "passed" in allure(folder):
        res["lies"].append(f"a drill whose rule cannot fire read {verdicts} / Allure {allure(folder)}")


def trial_forged_lab(way: str) -> Callable[[Path], Outcome]:
    def run(folder: Path) -> Outcome:
        res = outcome()
        proc = start(folder, "-k", "test_drill and service-outage", "--time-scale", "60", "--rules",
                     str(broken_rules(folder)))
        seen = until_line(proc, "▸ detect")
        forged_page(way, folder / "reports" / "lab")
        out = finish(proc, seen, folder)
        judge_forged(folder, out, res)
        common_checks(folder, out, res)
        return res

    return run


def trial_forged_compose(folder: Path) -> Outcome:
    """From inside the backend's container, which reaches the receiver on the bridge's address."""
    res = outcome()
    proc = start(folder, "-k", "test_drill and service-outage", "--time-scale", "60", "--target", "compose",
                 "--compose-project", "gameday-hostile", "--rules", str(broken_rules(folder)))
    seen = until_line(proc, "▸ detect")
    am = yaml.safe_load((folder / "reports" / "compose" / "config" / "alertmanager.yml").read_text())
    hook = am["receivers"][0]["webhook_configs"][0]
    url, secret = hook["url"].rsplit("/", 1)[0], hook["http_config"]["authorization"]["credentials"]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    body = json.dumps({"status": "firing", "alerts": [{"status": "firing", "startsAt": now, "fingerprint": "f00d",
                                                       "labels": {"alertname": "ServiceDown",
                                                                  "severity": "critical"}}]})
    for auth in ("", f"Bearer {secret}"):
        code = ("import sys, urllib.request as u; r = u.Request(sys.argv[1], data=sys.argv[2].encode(), "
                "headers={'Content-Type': 'application/json', **({'Authorization': sys.argv[3]} if sys.argv[3] "
                "else {})}); \ntry: u.urlopen(r, timeout=5)\nexcept Exception as e: print(e)")
        subprocess.run(["docker", "exec", "gameday-hostile-model-backend-1", "python3", "-c", code, f"{url}/pager",
                        body, auth], capture_output=True, timeout=30)
    out = finish(proc, seen, folder)
    judge_forged(folder, out, res)
    common_checks(folder, out, res)
    return res


PAUSE = """id: hostile-pause
title: hostile trial, a pause
priority: p3
runbook: runbooks/003-service-down.md
steady_state: 30s
fault: {kind: pause-service, target: inference-gateway, duration: 20m}
expect:
  - {alert: ServiceDown, receiver: pager, within: 15m}
recovery: {mode: revert, mttr_goal: 15m}
"""


def pause_run(folder: Path, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    (folder / "scenarios").mkdir()
    (folder / "scenarios" / "pause.yaml").write_text(PAUSE)
    proc = start(folder, "-k", "test_drill", "--scenarios", str(folder / "scenarios"), "--time-scale", "60",
                 "--target", "compose", "--compose-project", "gameday-hostile", "--watchdog", "5", *extra)
    return proc, until_line(proc, "fault injected")


def paused_left() -> list[str]:
    res = subprocess.run(["docker", "ps", "--filter", "status=paused", "--format", "{{.Names}}"],
                         capture_output=True, text=True)
    return res.stdout.split()


def stack_left(wait: float = 90.0) -> list[str]:
    """The trial project's containers, once its guard has had the time to bring a dead run's stack down."""
    deadline = time.monotonic() + wait
    while True:
        left = subprocess.run(["docker", "ps", "-a", "-q", "--filter",
                               "label=com.docker.compose.project=gameday-hostile"],
                              capture_output=True, text=True).stdout.split()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1)


def trial_sigstop(folder: Path) -> Outcome:
    res = outcome()
    proc, seen = pause_run(folder)
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(12)
    os.kill(proc.pid, signal.SIGCONT)
    out = finish(proc, seen, folder)
    verdicts = [(j["verdict"], j["reasons"][:1]) for j in journals(folder)]
    if not verdicts or verdicts[0][0] != "ERROR" or "watchdog took" not in str(verdicts[0][1]):
        res["lies"].append(f"a drill whose fault the watchdog took out read {verdicts}")
    if any(s in ("passed", "failed") for s in allure(folder)):
        res["lies"].append(f"Allure read {allure(folder)}")
    pause_checks(folder, out, res)
    return res


def pause_checks(folder: Path, out: str, res: Outcome) -> None:
    """After a pause trial: no container paused, nothing of the stack left, and what every trial must leave."""
    if stack_left():
        res["leftovers"].append(f"the stack is still up after its run: {len(stack_left())} container(s)")
    if paused_left():
        res["leftovers"].append(f"paused containers: {paused_left()}")
    common_checks(folder, out, res)


def trial_engine_restart(folder: Path) -> Outcome:
    res = outcome()
    proc, seen = pause_run(folder)
    pid = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    if pid:
        os.kill(int(pid[0]), signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid[0]}").exists():
            time.sleep(0.2)
    with open(ROOT / "reports" / "dockerd.log", "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and subprocess.run(["docker", "info"], capture_output=True).returncode:
        time.sleep(0.5)
    out = finish(proc, seen, folder)
    verdicts = [j["verdict"] for j in journals(folder)]
    if verdicts != ["ERROR"] or "passed" in allure(folder):
        res["lies"].append(f"a drill whose engine restarted under it read {verdicts} / Allure {allure(folder)}")
    pause_checks(folder, out, res)
    return res


def trial_crashed_worker(folder: Path) -> Outcome:
    res = outcome()
    proc = start(folder, "-n", "2", "-k", "test_drill and (high-error-rate or service-outage or "
                 "gateway-down-runbook)", "--time-scale", "60")
    ledger = folder / "reports" / "fault-ledger.jsonl"
    victim, deadline = None, time.monotonic() + 180
    while victim is None and time.monotonic() < deadline:
        lines = ledger.read_text().splitlines() if ledger.exists() else []
        victim = next((json.loads(x)["pid"] for x in lines if '"injecting"' in x), None)
        time.sleep(0.05)
    if victim is not None:
        os.kill(victim, signal.SIGKILL)
    out = finish(proc, [], folder, timeout=400)
    verdicts = sorted(j["verdict"] for j in journals(folder))
    if verdicts != ["ERROR", "PASS", "PASS"] or allure(folder) != ["broken", "passed", "passed"]:
        res["lies"].append(f"journals {verdicts}, Allure {allure(folder)} (3 drills, one crashed)")
    common_checks(folder, out, res)
    return res


def trial_sigkill(kind: str) -> Callable[[Path], Outcome]:
    def run(folder: Path) -> Outcome:
        from harness_chaos import trial

        res = outcome()
        for problem in trial(kind, "KILL", folder / "t", project="gameday-hostile"):
            res["lies" if "Allure" in problem else "leftovers"].append(problem)
        if stack := stack_left():  # the stack's guard brings it down after the watchdog
            res["leftovers"].append(f"the dead run's stack still up ({len(stack)} containers)")
        out = (folder / "t" / "output.txt").read_text() if (folder / "t" / "output.txt").exists() else ""
        if "Traceback (most recent call last)" in out:
            res["tracebacks"].append("a traceback in the output")
        return res

    return run


def trials(docker: bool) -> dict[str, Callable[[Path], Outcome]]:
    found: dict[str, Callable[[Path], Outcome]] = {
        f"forged-lab-{way}": trial_forged_lab(way) for way in ("without-secret", "with-secret", "via-alertmanager")}
    found["crashed-worker"] = trial_crashed_worker
    if docker:
        found["forged-compose-inside"] = trial_forged_compose
        found["sigstop"] = trial_sigstop
        found.update({f"sigkill-{kind}": trial_sigkill(kind) for kind in CONTAINER_KINDS})
        found["engine-restart"] = trial_engine_restart
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1, help="runs of each trial (default 1)")
    parser.add_argument("--only", default="", help="comma-separated prefixes of the trials to run")
    parser.add_argument("--no-docker", action="store_true", help="leave out the trials that need a Docker engine")
    args = parser.parse_args()
    docker = not args.no_docker and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    chosen = {name: fn for name, fn in trials(docker).items()
              if not args.only or any(name.startswith(p) for p in args.only.split(","))}
    work = Path(tempfile.mkdtemp(prefix="gameday-hostile-"))
    rows, totals = [], {"lies": 0, "leftovers": 0, "tracebacks": 0}
    for name, run in chosen.items():
        counts = {"lies": 0, "leftovers": 0, "tracebacks": 0}
        for i in range(args.trials):
            folder = work / f"{name}-{i}"
            folder.mkdir()
            res = run(folder)
            for key, problems in res.items():
                counts[key] += bool(problems)
                for problem in problems:
                    print(f"  {name} #{i}: {key[:-1]}: {problem}", flush=True)
        rows.append((name, args.trials, counts))
        for key in totals:
            totals[key] += counts[key]
        print(f"{name}: {args.trials} run(s), {counts['lies']} with a lie, {counts['leftovers']} with a leftover, "
              f"{counts['tracebacks']} with a traceback", flush=True)
    print(f"\n{'trial':<32} {'runs':>4} {'lies':>5} {'leftovers':>10} {'tracebacks':>11}")
    for name, n, c in rows:
        print(f"{name:<32} {n:>4} {c['lies']:>5} {c['leftovers']:>10} {c['tracebacks']:>11}")
    print(f"{'all':<32} {sum(r[1] for r in rows):>4} {totals['lies']:>5} {totals['leftovers']:>10} "
          f"{totals['tracebacks']:>11}")
    if not docker:
        print("(no Docker engine: the compose, SIGSTOP, SIGKILL and engine trials were left out)")
    print(f"trial folders in {work}")
    return 1 if any(totals.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
