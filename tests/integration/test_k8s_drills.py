"""Whole drills on the lab's services on the local Kubernetes cluster (``--target k8s``), run as a user runs them:
the P0 drills pass at time scale 60 with Prometheus finding the pods through the API server, a broken rule FAILs
there too, and nothing of the cluster is left after either session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gameday.k8s.sweep import leftovers
from tests.integration.conftest import broken_rules, gameday_argv, gameday_env, read_until
from tests.integration.test_compose import docker_or_skip

# one cluster per machine: under -n these tests share one worker (tests/conftest.py SHARED), and the P0 drills,
# whose ServiceDown SLA is a second at scale 60, run alone after the parallel tests


def cluster_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root (a kubelet, containerd, a bridge)")
    docker_or_skip()


@pytest.mark.whole_machine
def test_p0_drills_pass_on_k8s(run_gameday):
    cluster_or_skip()
    run = run_gameday("-m", "p0", "--time-scale", "60", "--target", "k8s", "-rs", timeout=900)
    assert run.proc.returncode == 0, run.out
    assert "target k8s" in run.out and "4 passed, 2 skipped" in run.out, run.out
    # the k8s target has no relay to cut requests in: the burn drills say so
    assert "the k8s target cannot do fault kind 'request-failures'" in run.out, run.out
    journals = run.journals()
    outage = journals["service-outage"]
    assert {s: j["verdict"] for s, j in journals.items() if j["verdict"] != "SKIPPED"} == {
        "service-outage": "PASS", "high-error-rate": "PASS", "gateway-down-runbook": "PASS",
        "backend-down-runbook": "PASS"}
    for drill, first in (("gateway-down-runbook", "kubectl -n \"$NAMESPACE\" get pods"),
                         ("backend-down-runbook", "kubectl -n \"$NAMESPACE\" scale deployment/model-backend")):
        steps = [e["note"] for e in journals[drill]["events"] if e.get("note", "").startswith("runbook ")]
        assert first in steps[0] and all("(exit 0," in s for s in steps), steps  # runbook 003's, 001's k8s version
    events = json.dumps(outage["events"])
    assert "restarted by its platform (k8s)" in events, events
    ledger = [json.loads(line) for line in (run.reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"] * 4, ledger
    kinds = {e["kind"]: e["detail"] for e in ledger if e["state"] == "injecting"}
    assert set(kinds) == {"kill-service", "stop-service"} and kinds["stop-service"]["replicas"] == 1, kinds
    assert all(d["namespace"] == "gameday" and Path(d["token_file"]).exists() for d in kinds.values()), kinds
    token = Path(kinds["stop-service"]["token_file"]).read_text().strip()
    written = [p for p in run.reports.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".log", ".xml")]
    assert len(token) >= 32 and [str(p) for p in written if token in p.read_text(errors="replace")] == [], \
        "the API token is in no journal, ledger or log"
    assert leftovers() == [], "the cluster went with the session"


def test_a_broken_rule_fails_its_k8s_drill(run_gameday, tmp_path):
    """ServiceDown's threshold out of reach: the crashed gateway is down, scraped down through service discovery,
    and no page comes: FAIL, and the crash is still reverted."""
    cluster_or_skip()
    rules = broken_rules(tmp_path, "service-outage")
    run = run_gameday("-k", "test_drill and service-outage", "--time-scale", "60", "--target", "k8s",
                      "--rules", str(rules), timeout=600)
    assert run.proc.returncode == 1, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "FAIL", journal["reasons"]
    assert "ServiceDown" in journal["reasons"][0], journal["reasons"]
    ledger = [json.loads(line) for line in (run.reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"]
    assert leftovers() == []


def stop_service_drill(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """The high-error-rate drill on k8s (its backend scaled to zero) with a 5 s watchdog, read until its fault
    is in."""
    cluster_or_skip()
    argv = gameday_argv(tmp_path, "-k", "test_drill and high-error-rate", "--time-scale", "60", "--target", "k8s",
                        "--watchdog", "5")
    proc = subprocess.Popen(argv, cwd=tmp_path, env=gameday_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    return proc, read_until(proc, within=300)


def test_a_harness_stalled_past_the_watchdog_has_its_backend_scaled_back_by_it(tmp_path):
    """SIGSTOP of the harness for 12 s with the backend scaled to zero: the watchdog puts the Deployment back at
    its one replica through the API server, checks it ready, and says so; the drill is ERROR naming the
    watchdog."""
    proc, seen = stop_service_drill(tmp_path)
    proc.send_signal(signal.SIGSTOP)
    time.sleep(12)
    proc.send_signal(signal.SIGCONT)
    rest, _ = proc.communicate(timeout=180)
    out = "".join(seen) + rest
    assert proc.returncode == 1, out
    (journal,) = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "drills").glob("*.json")]
    assert journal["verdict"] == "ERROR" and "the watchdog took stop-service model-backend out" in \
        journal["reasons"][0], journal["reasons"]
    ledger = [json.loads(line) for line in (tmp_path / "reports" / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"], ledger
    assert "by the watchdog" in ledger[1]["note"] and "scaled model-backend back to 1" in ledger[1]["note"], ledger
    assert "checked against the API server" in ledger[1]["note"]
    assert leftovers() == []


def test_a_harness_killed_mid_fault_leaves_nothing_of_the_cluster(tmp_path):
    """SIGKILL of the harness with the backend scaled to zero: the cluster's guard takes the whole cluster down,
    and the watchdog closes the fault's entry saying what it found (reverted, or gone with the cluster)."""
    proc, _ = stop_service_drill(tmp_path)
    proc.kill()
    proc.wait()
    from gameday.faults import Ledger

    ledger = Ledger(tmp_path / "reports" / "fault-ledger.jsonl")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (ledger.pending() or leftovers() or guards()):
        time.sleep(0.5)
    assert leftovers() == [] and guards() == [], "the guard removed the cluster"
    (entry,) = [e for e in ledger.entries() if e["state"] != "injecting"]
    assert entry["state"] in ("reverted", "gone"), entry
    assert "checked against the API server" in entry["note"] or "the cluster went with" in entry["note"], entry


def guards() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and b"gameday.k8s.guard" in (entry / "cmdline").read_bytes():
                found.append(entry.name)
    return found
