"""Stop conditions are asked in the background, so the drill's waits never pay for them; one Prometheus refuses is
one line naming its file before any fault."""

from __future__ import annotations

import threading
import time

import pytest

from gameday.core.clock import Clock
from gameday.core.errors import ConfigError, DrillAborted, StackUnreachable
from gameday.drill.stopconditions import StopConditions, validate
from gameday.scenario.model import StopCondition


class SlowPrometheus:
    """Answers each query after ``delay``; holds for the expressions in ``holding``; records who asked."""

    def __init__(self, delay=0.0, holding=(), refuse=()):
        self.delay, self.holding, self.refuse = delay, set(holding), set(refuse)
        self.askers: set[int] = set()
        self.asked = 0

    def query(self, expr):
        self.askers.add(threading.get_ident())
        self.asked += 1
        if expr in self.refuse:
            raise StackUnreachable("Prometheus at http://x did not answer /api/v1/query: HTTP 400: parse error")
        time.sleep(self.delay)
        return [{"metric": {}, "value": [0, "1"]}] if expr in self.holding else []


def conds(n, prefix="up"):
    return [StopCondition(expr=f"{prefix} == {i}") for i in range(n)]


def test_thousands_of_slow_conditions_never_cost_the_drill_a_query():
    """5000 conditions once starved the detection wait until a page that came at 1.4 s read 'never fired'."""
    prom = SlowPrometheus(delay=0.001)
    stops = StopConditions(conds(5000), prom, Clock()).start()
    try:
        for _ in range(200):
            stops.check("detect")
        assert threading.get_ident() not in prom.askers, "the drill's own thread asked Prometheus"
    finally:
        stops.stop()
    assert stops._thread is not None and not stops._thread.is_alive()


def test_a_condition_that_holds_aborts_at_the_next_look_naming_the_phase():
    prom = SlowPrometheus(holding={"up == 2"})
    stops = StopConditions(conds(3), prom, Clock(), every=0.05, current=lambda: "detect").start()
    try:
        deadline = time.monotonic() + 5
        # named by the phase the drill is in when the watch finds it, whether or not the drill has looked yet
        with pytest.raises(DrillAborted, match=r"stop condition held during detect at .*: up == 2"):
            while time.monotonic() < deadline:
                stops.check("detect")
                time.sleep(0.01)
    finally:
        stops.stop()


def test_prometheus_failing_the_watch_is_raised_as_the_stack_unreachable():
    stops = StopConditions(conds(1), SlowPrometheus(refuse={"up == 0"}), Clock(), every=0.05).start()
    try:
        time.sleep(0.3)
        with pytest.raises(StackUnreachable):
            stops.check("detect")
    finally:
        stops.stop()


def test_no_condition_no_thread_and_stopped_conditions_say_nothing():
    stops = StopConditions([], SlowPrometheus(), Clock()).start()
    assert stops._thread is None
    stops.check("detect")
    held = StopConditions(conds(1), SlowPrometheus(holding={"up == 0"}), Clock(), every=0.01).start()
    time.sleep(0.2)
    held.stop()
    held.check("resolve")  # the fault is out: nothing to abort


def test_a_condition_prometheus_refuses_is_one_line_naming_its_file_before_the_fault():
    prom = SlowPrometheus(refuse={"up == 1"})
    with pytest.raises(ConfigError, match=r"config/abort.yaml: \[1\].*Prometheus refused the expression: parse error"):
        validate(prom, [(c, "config/abort.yaml", f"[{i}]") for i, c in enumerate(conds(2))])
