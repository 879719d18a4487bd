"""Chaos for the harness itself: end a drill at a random moment after its fault is in, and check nothing is left.

For each fault kind and signal, a trial runs one drill (``pytest gamedays/`` in its own process, time scale
60), waits for ``fault injected``, waits a random 0-1.5 s more, sends the signal, and then checks:

- the fault is gone: lab services all running; compose containers running, none paused, no fault sidecar, no
  nftables table in the gateway's network namespace, every container on its network; the SLI answers;
- nothing is left behind: no process of the trial's lab; the ledger has no open fault;
- no result lies: no Allure result of the trial reads ``passed`` (SIGINT and SIGTERM: ``broken``).

After SIGKILL the harness cannot revert; the watchdog (``--watchdog 5``) must, for container faults, and the
lab dies with its harness; then ``gameday revert`` runs, as a user would, and must find nothing it cannot
revert, and the stack's guard must bring the dead run's stack down. A failed check is printed with the trial's folder.

Trials can run side by side (``--jobs N``): each has its own folder, lab ports and Compose project, and every
check is scoped to its own trial (its folder, its lab's cgroup, its project, sidecars named after its harness).

Run: .venv/bin/python bench/harness_chaos.py --trials 20 [--jobs 2] [--kinds pause-service,stop-service]
     [--signals INT,TERM,KILL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_argv import gamedays_argv  # noqa: E402

from gameday.compose.engine import compose_binary, engine  # noqa: E402
from gameday.compose.stack import ComposeConfig, ComposeStack  # noqa: E402
from gameday.faults.ledger import Ledger  # noqa: E402

KINDS = {  # kind[@lab] -> (target, extra fault fields, expected alert, recovery)
    "kill-service": ("lab", "duration: 20m", "ServiceDown", "auto"),
    "stop-service": ("lab", "target: model-backend", "HighErrorRate", "revert"),
    "latency": ("lab", "target: model-backend\ndelay: 800ms\nduration: 20m", "SLOLatencyP99Violation", "revert"),
    "request-failures": ("lab", "target: model-backend\npercent: 20\nduration: 20m", "SLOAvailabilityFastBurn",
                         "revert"),
    "traffic-surge": ("lab", "users: 30\nduration: 20m", "ModelBackendSaturated", "revert"),
    "cpu-stress@lab": ("lab", "target: model-backend\nworkers: 2\nduration: 20m", "HighCPUUsage", "revert"),
    "memory-stress@lab": ("lab", "target: model-backend\nmegabytes: 440\nduration: 20m", "HighMemoryUsage",
                          "revert"),
    "pause-service": ("compose", "duration: 20m", "ServiceDown", "revert"),
    "cpu-stress": ("compose", "duration: 20m", "ServiceDown", "revert"),
    "packet-loss": ("compose", "percent: 100\n  duration: 20m", "ServiceDown", "revert"),
    "network-disconnect": ("compose", "duration: 20m", "ServiceDown", "revert"),
}
SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}
PROJECT = "gameday-chaos"


def scenario(kind: str) -> str:
    target, extra, alert, recovery = KINDS[kind]
    fault_target = "model-backend" if "model-backend" in extra else "inference-gateway"
    extra = "\n  ".join(line.strip() for line in extra.splitlines() if not line.strip().startswith("target:"))
    chat = alert in ("SLOLatencyP99Violation", "ModelBackendSaturated", "HighCPUUsage", "HighMemoryUsage")
    return f"""id: chaos-{kind.replace("@", "-")}
title: harness chaos, {kind}
priority: p3
runbook: runbooks/003-service-down.md
steady_state: 30s
fault:
  kind: {kind.split("@")[0]}
  target: {fault_target}
  {extra}
expect:
  - {{alert: {alert}, receiver: {"chat" if chat else "pager"}, within: 15m}}
recovery: {{mode: {recovery}, mttr_goal: 15m}}
"""


def trial(kind: str, sig: str, folder: Path, project: str = PROJECT) -> list[str]:
    """Run one trial; return the problems found (empty: clean)."""
    target = KINDS[kind][0]
    (folder / "scenarios").mkdir(parents=True)
    (folder / "scenarios" / f"{kind.replace('@', '-')}.yaml").write_text(scenario(kind))
    argv = gamedays_argv(folder / "reports", folder / "allure", "-k", "test_drill", "--scenarios",
                         str(folder / "scenarios"), "--time-scale", "60", "--target", target, "--compose-project",
                         project, "--watchdog", "5")
    env = {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL,  # a shell's background job ignores SIGINT: give it back
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    out: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 180
    for line in proc.stdout:
        out.append(line)
        if "fault injected" in line or time.monotonic() > deadline:
            break
    if not any("fault injected" in line for line in out):
        proc.kill()
        (folder / "output.txt").write_text("".join(out))
        last = [line.strip() for line in out if line.strip()][-3:]
        return [f"the fault was never injected; the run's last lines: {' | '.join(last) or '(none)'}"]
    time.sleep(random.uniform(0, 1.5))
    proc.send_signal(SIGNALS[sig])
    try:
        rest, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    (folder / "output.txt").write_text("".join(out) + rest)
    problems: list[str] = []
    if sig == "KILL":
        time.sleep(8)  # the watchdog's 5 s bound and its revert; then what a user runs after a crash
        subprocess.run([sys.executable, "-m", "gameday.cli.main", "revert", "--reports", str(folder / "reports")],
                       capture_output=True, timeout=120)
    ledger = Ledger(folder / "reports" / "fault-ledger.jsonl")
    if open_faults := ledger.pending():
        problems.append(f"ledger: {len(open_faults)} fault(s) still open")
    states = [e["state"] for e in ledger.entries() if e["state"] != "injecting"]
    if "abandoned" in states:
        problems.append("ledger: a revert was abandoned")
    for result in (folder / "allure").glob("*-result.json"):
        status = json.loads(result.read_text())["status"]
        if status == "passed" or (sig != "KILL" and status != "broken"):
            problems.append(f"Allure result reads {status}")
    time.sleep(0.5)
    deadline = time.monotonic() + 90  # a dead run's stack guard does its work, then ends
    while time.monotonic() < deadline and any(b"gameday.compose.guard" in c and str(folder).encode() in c
                                              for c in _cmdlines()):
        time.sleep(0.5)
    leftovers = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder / "reports") in args and "watchdog" not in args:
            leftovers.append(args[:80])
    if leftovers:
        problems.append(f"processes left: {leftovers}")
    if target == "lab":  # a stress-ng left behind keeps the lab's cgroup from being removed
        from gameday.lab.cgroups import lab_cgroup

        group = lab_cgroup(folder / "reports" / "lab", "model-backend")
        if group.dir("memory").exists():
            problems.append(f"the lab's cgroup is left, holding {len(group.stressors())} stress-ng process(es)")
    if target == "compose":
        problems += compose_left(sig, project, proc.pid)
    return problems


def _cmdlines() -> list[bytes]:
    """Every live process's command line."""
    out = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out.append(path.read_bytes())
        except OSError:
            continue
    return out


def compose_left(sig: str, project: str, harness_pid: int) -> list[str]:
    """After a trial on compose: the stack is down, after SIGKILL too (the watchdog reverts the fault, then the
    stack's guard brings it down; waited for here, up to a minute)."""
    client = engine()
    label = {"label": f"com.docker.compose.project={project}"}
    deadline = time.monotonic() + 60
    while sig == "KILL" and time.monotonic() < deadline and client.containers.list(all=True, sparse=True,
                                                                                  filters=label):
        time.sleep(0.5)
    mine = client.containers.list(all=True, filters=label)
    # the list call itself, not one inspect per container: another trial's sidecar may go between the two
    sidecars = [name.lstrip("/") for c in client.api.containers(all=True, filters={"label": "io.gameday.fault"})
                for name in c.get("Names") or [] if f"-{harness_pid}-" in name]  # named after its harness
    problems = [f"fault sidecar left: {name}" for name in sidecars]
    if mine:
        problems.append(f"{len(mine)} container(s) left after the harness {'died' if sig == 'KILL' else 'stopped'}")
    for c in mine:
        c.reload()
        state = c.attrs["State"]
        if state.get("Paused") or not state.get("Running"):
            problems.append(f"{c.name}: {'paused' if state.get('Paused') else state.get('Status')}")
        if f"{project}_default" not in (c.attrs["NetworkSettings"]["Networks"] or {}):
            problems.append(f"{c.name}: off its network")
        if c.labels.get("com.docker.compose.service") == "inference-gateway" and state.get("Running"):
            side = client.containers.run(c.image.id, ["nft", "list", "table", "inet", "gameday_fault"],
                                         entrypoint=[], network_mode=f"container:{c.id}", cap_add=["NET_ADMIN"],
                                         remove=False, detach=True)
            if side.wait()["StatusCode"] == 0:
                problems.append("nftables table left in the gateway's namespace")
            side.remove(force=True)
    subprocess.run([*compose_binary(), "--project-name", project, "--file", str(ROOT / "docker-compose.yml"), "down",
                    "--volumes", "--timeout", "2"], capture_output=True, timeout=120)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2, help="trials per fault kind and signal (default 2)")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--signals", default=",".join(SIGNALS))
    parser.add_argument("--jobs", type=int, default=1, help="trials side by side (default 1)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gameday-chaos-"))
    if any(KINDS[kind][0] == "compose" for kind in args.kinds.split(",")):
        # built once before the trials, so a trial's wait for its fault times the harness, not a build
        ComposeStack(ComposeConfig(ROOT, work / "image")).ensure_image()
    counts: Counter[tuple[str, str, str]] = Counter()
    lock = threading.Lock()
    projects = [f"{PROJECT}-{j}" for j in range(max(1, args.jobs))]

    def one(kind: str, sig: str, i: int) -> None:
        with lock:
            project = projects.pop()
        try:
            folder = work / f"{kind.replace('@', '-')}-{sig}-{i}"
            problems = trial(kind, sig, folder, project)
        finally:
            with lock:
                projects.append(project)
        with lock:
            counts[(kind, sig, "clean" if not problems else "dirty")] += 1
            if problems:
                print(f"DIRTY {kind} SIG{sig} #{i}: {'; '.join(problems)} ({folder})", flush=True)
            if counts[(kind, sig, "clean")] + counts[(kind, sig, "dirty")] == args.trials:
                print(f"{kind} SIG{sig}: {counts[(kind, sig, 'clean')]} of {args.trials} trials clean", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for future in [pool.submit(one, kind, sig, i) for kind in args.kinds.split(",")
                       for sig in args.signals.split(",") for i in range(args.trials)]:
            future.result()
    dirty = sum(v for (_, _, k), v in counts.items() if k == "dirty")
    print(f"{sum(counts.values())} trials, {dirty} with a leftover or a lying result; folders in {work}")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
