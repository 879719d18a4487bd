"""Locust as the harness runs it: a locustfile that cannot load is one line with Locust's own reason; one Locust
serves a session's drills, each with its own window of figures."""

from __future__ import annotations

import time

import pytest

from gameday.core.errors import HarnessError
from gameday.core.httpserver import LoopbackServer, QuietHandler
from gameday.load.locust import LocustRun, SharedLoad


def test_a_locustfile_that_fails_to_load_names_the_reason(tmp_path):
    bad = tmp_path / "broken_users.py"
    bad.write_text("import no_such_module_for_gameday\n")
    run = LocustRun(bad, "http://127.0.0.1:9", 1, 1, tmp_path / "load")
    run.start()
    try:
        with pytest.raises(HarnessError, match="Locust exited early.*No module named 'no_such_module_for_gameday'"):
            run.wait_flowing(30)
    finally:
        run.stop()


class _Ok(QuietHandler):
    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer  # noqa: N815 - the names http.server calls


def test_one_locust_serves_a_session_and_each_drill_gets_its_own_window(tmp_path, root):
    """A real Locust against a loopback server: the second drill borrows the running process (no start-up), its
    figures count only its own window, its users are steered to its own, and another host gets a new Locust."""
    first, second = LoopbackServer(_Ok, "ok-1").start(), LoopbackServer(_Ok, "ok-2").start()
    loads = SharedLoad(tmp_path / "session")
    try:
        run = loads.borrow(root / "locustfiles/baseline.py", first.url, 2, 5)
        pid = run.proc.pid
        time.sleep(2.5)
        earlier = run.window_stats()
        assert earlier is not None and earlier.requests > 0
        again = loads.borrow(root / "locustfiles/baseline.py", first.url, 4, 5)
        assert again is run and run.proc.pid == pid and loads.started == 1, "the same process, not a new one"
        assert run.user_count() == 4, "steered to the second drill's users"
        window = run.window_stats()
        assert window is not None and window.requests < earlier.requests, "the window starts at the borrow"
        time.sleep(1.5)
        later = run.window_stats()
        assert later.requests > window.requests and later.failures == 0
        other = loads.borrow(root / "locustfiles/baseline.py", second.url, 2, 5)
        assert other is not run and loads.started == 2 and not run.running(), "another host: a new Locust"
    finally:
        loads.close()
        first.stop()
        second.stop()
    assert loads.run is None and other.proc.poll() is not None, "closed: no Locust left"


def test_the_session_locust_starts_once_the_services_answer_and_the_first_drill_borrows_it(tmp_path, root):
    """``wait_ready`` calls a target's ``when_serving`` once, as soon as its services answer and while its
    monitoring is not ready yet; the session starts Locust there, and the first drill borrows that process."""
    from types import SimpleNamespace

    from gameday.target.readiness import wait_ready

    server = LoopbackServer(_Ok, "ok").start()
    loads = SharedLoad(tmp_path / "session")
    looks = {"n": 0}

    def prometheus_ready() -> bool:  # ready at the fourth look: the callback must come before
        looks["n"] += 1
        return looks["n"] > 3

    calls: list[int] = []
    target = SimpleNamespace(
        services=lambda: ["gateway"], service_healthy=lambda svc: True,
        alertmanager=SimpleNamespace(ready=lambda: True),
        prometheus=SimpleNamespace(ready=prometheus_ready, targets_up=lambda: {"gateway": True},
                                   alertmanagers=lambda: ["am"]),
        url=lambda svc: server.url, sli=SimpleNamespace(service="gateway"))
    target.when_serving = lambda t: (calls.append(looks["n"]),
                                     loads.prestart(root / "locustfiles/baseline.py", t.url("gateway"), 2, 5))
    try:
        wait_ready(target, 10, "the fake target")
        assert calls == [1], "called once, at the first look, while Prometheus was not ready"
        assert loads.run is not None and loads.run.running() and loads.started == 1
        pid = loads.run.proc.pid
        run = loads.borrow(root / "locustfiles/baseline.py", server.url, 2, 5)
        assert run.proc.pid == pid and loads.started == 1, "the first drill borrows the Locust started ahead"
        assert run.window_stats() is not None
    finally:
        loads.close()
        server.stop()
