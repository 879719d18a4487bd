"""A forged page never makes a broken drill pass, on the real lab: ServiceDown's rule can never fire, and while
the drill waits for its page, a hostile process on the machine forges one three ways. Each drill FAILs "never
fired", and its journal names the refused pages."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import yaml

from tests.integration.conftest import broken_rules, drill_until_detect


def _alert(status: str, fingerprint: str) -> dict:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"status": status, "labels": {"alertname": "ServiceDown", "severity": "critical",
                                         "job": "inference-gateway", "instance": "x"},
            "annotations": {}, "startsAt": now, "endsAt": now if status == "resolved" else "0001-01-01T00:00:00Z",
            "fingerprint": fingerprint, "generatorURL": ""}


def forge(way: str, lab: Path) -> None:
    """What an attacker on the machine can do once the drill is waiting for its page."""
    endpoints = json.loads((lab / "endpoints.json").read_text())
    webhook = endpoints["WEBHOOK"]
    fingerprint = secrets.token_hex(8)
    if way == "via-alertmanager":  # Alertmanager's API is open on loopback: it then sends a real, signed page
        alert = {"labels": _alert("firing", "")["labels"], "startsAt": _alert("firing", "")["startsAt"]}
        requests.post(f"{endpoints['ALERTMANAGER']}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
        return
    headers = {}
    if way == "with-the-secret":  # root reads the rendered config, secret and all
        am = yaml.safe_load((lab / "config" / "alertmanager.yml").read_text())
        hook = am["receivers"][0]["webhook_configs"][0]
        headers = {"Authorization": f"Bearer {hook['http_config']['authorization']['credentials']}"}
    for status in ("firing", "resolved"):
        body = {"version": "4", "status": status, "receiver": "pager", "groupLabels": {"alertname": "ServiceDown"},
                "alerts": [_alert(status, fingerprint)]}
        requests.post(f"{webhook}/pager", json=body, headers=headers, timeout=5)
        time.sleep(0.05)


@pytest.mark.parametrize("way", ["without-the-secret", "with-the-secret", "via-alertmanager"])
def test_a_forged_page_never_passes_a_drill_whose_alert_never_fired(tmp_path, way):
    rules = broken_rules(tmp_path, "service-outage")
    proc, seen = drill_until_detect(tmp_path, "-k", "test_drill and service-outage", "--time-scale", "60",
                                    "--rules", str(rules))
    forge(way, tmp_path / "reports" / "lab")
    rest, _ = proc.communicate(timeout=120)
    out = "".join(seen) + rest
    assert proc.returncode == 1, out
    assert "verdict FAIL: ServiceDown never fired" in out, out
    assert "caution: service-outage:" in out and "page(s) refused" in out, out
    (journal,) = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "drills").glob("*.json")]
    assert journal["verdict"] == "FAIL" and "t_notified" not in journal["marks"]
    refused = journal["pages_refused"]
    assert refused, journal
    if way == "without-the-secret":
        assert {r["why"] for r in refused} == {"no secret"} and len(refused) == 2
    elif way == "with-the-secret":
        assert "Alertmanager holds no active ServiceDown" in refused[0]["why"]
    else:
        assert "Prometheus never showed ServiceDown" in refused[0]["why"]
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    assert [r["status"] for r in results] == ["failed"]
