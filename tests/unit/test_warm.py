"""A warm lab's parts that need no lab: what must match, who holds it, and the receiver a session follows."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import requests

from gameday.lab.stack import LabConfig
from gameday.lab.warm import Holder
from gameday.lab.warmfile import fingerprint, mismatch
from gameday.observe.receiver import RelayedReceiver, WebhookReceiver, bearer
from tests.conftest import ROOT


def test_a_session_must_ask_for_what_the_warm_lab_was_started_with(tmp_path):
    started = LabConfig(ROOT, tmp_path / "lab", 60)
    warm = {"pid": 1, "fingerprint": fingerprint(started)}
    assert mismatch(warm, fingerprint(LabConfig(ROOT, tmp_path / "lab", 60)), tmp_path / "lab") is None
    said = mismatch(warm, fingerprint(LabConfig(ROOT, tmp_path / "lab", 20)), tmp_path / "lab")
    assert said is not None and "time scale 60 (this run: 20)" in said and "gameday lab down" in said
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "config/prometheus/rules", rules)
    assert mismatch(warm, fingerprint(LabConfig(ROOT, tmp_path / "lab", 60, rules_dir=rules)), tmp_path) is None
    first = sorted(rules.glob("*.yml"))[0]
    first.write_text(first.read_text().replace("for: ", "for:  ", 1))
    said = mismatch(warm, fingerprint(LabConfig(ROOT, tmp_path / "lab", 60, rules_dir=rules)), tmp_path)
    assert said is not None and "other rules" in said and "time scale" not in said


def test_a_session_follows_another_process_receiver_with_its_history_and_its_arrival_stamps():
    source = WebhookReceiver().start()
    relay = None
    try:
        for status in ("firing", "resolved"):
            requests.post(f"{source.url}/pager", json={"status": status, "groupLabels": {"alertname": "A"}},
                          timeout=5, headers=bearer(source.secret)).raise_for_status()
        requests.post(f"{source.url}/pager", json={"status": "firing"}, timeout=5)  # no secret: refused
        relay = RelayedReceiver(source.url, source.secret).start()
        assert [(n.receiver, n.status, n.arrived) for n in relay.received()] == \
               [(n.receiver, n.status, n.arrived) for n in source.received()], "the history, stamps and all"
        t0 = time.monotonic()
        requests.post(f"{source.url}/chat", json={"status": "firing"}, timeout=5,
                      headers=bearer(source.secret)).raise_for_status()
        while len(relay.received()) < 3:
            relay.nap(0.5)
            assert time.monotonic() - t0 < 2, "the new delivery never reached the relay"
        assert relay.received()[-1].arrived == source.received()[-1].arrived
        assert relay.received(since=source.received()[-1].arrived)[0].receiver == "chat"
        assert [r.why for r in relay.rejections()] == ["no secret"], "the refusals travel with the pages"
        assert requests.get(source.url, params={"after": "x"}, timeout=5,
                            headers=bearer(source.secret)).status_code == 400
        assert requests.get(source.url, timeout=5).status_code == 401, "no reading the pages without the secret"
        with pytest.raises(requests.HTTPError):
            RelayedReceiver(source.url, "a guess").start()
    finally:
        if relay is not None:
            relay.stop()
        source.stop()


def test_only_a_holder_of_the_lab_secret_may_hold_or_release_a_warm_lab():
    """Anyone on loopback could once ``POST /hold?pid=1`` and lock every later session out."""
    from gameday.lab.supervisor import ControlServer, RemoteSupervisor, Supervisor
    from gameday.lab.warm import GUARDED

    holder = Holder()
    server = ControlServer(Supervisor(), posts={"hold": holder.hold, "release": holder.release},
                           guarded=GUARDED, secret="s3cret").start()
    try:
        assert requests.post(f"{server.url}/hold", params={"pid": 1}, timeout=5).status_code == 401
        assert RemoteSupervisor(server.url, secret="guess").ask("POST", "/hold", pid=1)[0] == 401
        assert holder.pid is None
        assert RemoteSupervisor(server.url, secret="s3cret").ask("POST", "/hold", pid=os.getpid())[0] == 200
        assert requests.post(f"{server.url}/release", params={"pid": os.getpid()}, timeout=5).status_code == 401
        assert holder.pid == os.getpid()
        assert requests.get(f"{server.url}/services", timeout=5).status_code == 200, "a runbook's reads stay open"
    finally:
        server.stop()


def test_every_fault_on_a_warm_lab_names_its_restore_url_stress_included():
    """A warm lab's cpu-stress faults once carried no restore URL: a session that died left its stress-ng."""
    from types import SimpleNamespace

    from gameday.lab.faults import lab_fault_kinds

    kinds = lab_fault_kinds(None, restore="http://127.0.0.1:1/restore")
    lab = SimpleNamespace(cgroup=SimpleNamespace(), config=SimpleNamespace(workdir=Path("/tmp")),
                          supervisor=None, endpoints=SimpleNamespace(link="http://127.0.0.1:2"))
    for kind, spec in (("cpu-stress", SimpleNamespace(kind="cpu-stress", target="model-backend", workers=1, load=10)),
                       ("memory-stress", SimpleNamespace(kind="memory-stress", target="model-backend", megabytes=8))):
        fault = kinds.builders[kind](lab, spec, None, None)
        assert fault.outlives_harness and fault.reverted_by == {"restore": "http://127.0.0.1:1/restore"}, kind


def test_a_client_that_goes_away_mid_answer_leaves_no_traceback(capfd):
    source = WebhookReceiver().start()
    try:
        import socket
        from urllib.parse import urlsplit

        url = urlsplit(source.url)
        for _ in range(5):  # a long poll, then the caller gone before the answer
            conn = socket.create_connection((url.hostname, url.port))
            conn.sendall(f"GET /?wait=0.3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {source.secret}\r\n\r\n"
                         .encode())
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()
        time.sleep(0.8)
    finally:
        source.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_a_warm_lab_that_stops_answering_is_one_plain_line():
    """A warm lab SIGKILLed mid-drill once read ERROR with the raw ConnectionError text of requests."""
    from gameday.core.errors import HarnessError
    from gameday.lab.supervisor import RemoteSupervisor
    from gameday.target.ports import free_port

    with pytest.raises(HarnessError) as err:
        RemoteSupervisor(f"http://127.0.0.1:{free_port()}", timeout=2).start("model-backend")
    text = str(err.value)
    assert text.startswith("the warm lab stopped answering") and "ConnectionError" not in text
    assert "HTTPConnectionPool" not in text and "says nothing about the alert" in text

