"""Whole drills on the lab's services on the local Kubernetes cluster (``--target k8s``), run as a user runs them:
the P0 drills pass at time scale 60 with Prometheus finding the pods through the API server, a broken rule FAILs
there too, and nothing of the cluster is left after either session."""

from __future__ import annotations

import json
import os

import pytest

from gameday.k8s.sweep import leftovers
from tests.integration.conftest import broken_rules
from tests.integration.test_compose import docker_or_skip

# one cluster per machine, and at scale 60 ServiceDown's SLA is a second: alone, after the parallel tests
pytestmark = pytest.mark.whole_machine


def cluster_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root (a kubelet, containerd, a bridge)")
    docker_or_skip()


def test_p0_drills_pass_on_k8s(run_gameday):
    cluster_or_skip()
    run = run_gameday("-m", "p0", "--time-scale", "60", "--target", "k8s", "-rs", timeout=900)
    assert run.proc.returncode == 0, run.out
    assert "target k8s" in run.out and "2 passed, 4 skipped" in run.out, run.out
    # the runbooks have no Kubernetes version yet, and the k8s target has no relay to cut requests in
    assert "is marked only for lab" in run.out, run.out
    assert "the k8s target cannot do fault kind 'request-failures'" in run.out, run.out
    journals = run.journals()
    outage, errors = journals["service-outage"], journals["high-error-rate"]
    assert outage["verdict"] == "PASS" and errors["verdict"] == "PASS"
    events = json.dumps(outage["events"])
    assert "restarted by its platform (k8s)" in events, events
    assert outage["fault"]["detail"]["namespace"] == "gameday" and "token_file" in outage["fault"]["detail"]
    assert "token" not in json.dumps(outage).replace("token_file", ""), "the API token never reaches a journal"
    assert errors["fault"]["kind"] == "stop-service"
    ledger = [json.loads(line) for line in (run.reports / "fault-ledger.jsonl").read_text().splitlines()]
    assert [e["state"] for e in ledger] == ["injecting", "reverted"] * 2, ledger
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
