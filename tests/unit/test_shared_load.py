"""The session's shared Locust is bounded by its --run-time: a drill that needs more than the run has left gets a
new run (past its run time Locust runs no user, yet its process and web API stay up, so it still looked running:
a mutation run of half an hour had every drill after that read "Locust sent no request")."""

from __future__ import annotations

from pathlib import Path

import gameday.load.locust as locust
from gameday.load.locust import SharedLoad


class _Run:
    made: list[_Run] = []

    def __init__(self, locustfile, host, users, spawn_rate, out_dir, max_seconds, **kw) -> None:
        self.locustfile, self.host, self.workers = locustfile, host, kw.get("workers", 0)
        self.users, self.spawn_rate, self.max_seconds = users, spawn_rate, max_seconds
        self.left = max_seconds
        _Run.made.append(self)

    def start(self) -> None: ...
    def running(self) -> bool: return True
    def workers_gone(self) -> bool: return False
    def seconds_left(self) -> float: return self.left
    def wait_flowing(self) -> None: ...
    def reset_window(self) -> None: ...
    def stop(self) -> None: ...


def test_a_drill_that_needs_more_than_the_run_has_left_gets_a_new_run_long_enough(monkeypatch, tmp_path):
    monkeypatch.setattr(locust, "LocustRun", _Run)
    monkeypatch.setattr(locust, "check_target", lambda host, reach: host)
    _Run.made = []
    loads = SharedLoad(tmp_path, max_seconds=1800)
    first = loads.borrow(Path("l.py"), "http://127.0.0.1:1", 5, 5, for_seconds=300)
    assert loads.borrow(Path("l.py"), "http://127.0.0.1:1", 5, 5, for_seconds=300) is first, "still has time"
    first.left = 200
    second = loads.borrow(Path("l.py"), "http://127.0.0.1:1", 5, 5, for_seconds=300)
    assert second is not first and len(_Run.made) == 2
    long = loads.borrow(Path("l.py"), "http://127.0.0.1:1", 5, 5, for_seconds=36_000)
    assert long is not second and long.max_seconds == 36_000, "a real-time drill of hours gets a run of hours"
