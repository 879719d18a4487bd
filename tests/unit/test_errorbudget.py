"""The error-budget gate: the policy's states, the SLO file, what is read and what is decided."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from gameday.core.errors import ConfigError, StackUnreachable
from gameday.target.errorbudget import Decision, ErrorBudgetGate, Slo, load_slos, read_budget, state_of
from tests.conftest import ROOT

SLO = Slo(name="avail", objective=99.5, window="30d", errors="E[$window]", total="T[$window]")


class Answers:
    """Prometheus's answers to the two queries, as its HTTP API shapes them (the arithmetic under test is ours)."""

    def __init__(self, **by_query: object) -> None:
        self.by_query, self.asked = by_query, []

    def query(self, expr: str) -> list[dict]:
        self.asked.append(expr)
        value = self.by_query[expr[0]]
        if isinstance(value, Exception):
            raise value
        return [{"metric": {}, "value": [0, str(v)]} for v in (value if isinstance(value, list) else [value])]


@pytest.mark.parametrize(("left", "state"), [(1.0, "healthy"), (0.5001, "healthy"), (0.5, "warning"),
                                             (0.3, "warning"), (0.2999, "critical"), (0.1, "critical"),
                                             (0.0999, "emergency"), (-4.0, "emergency")])
def test_states_follow_the_policy_bounds(left, state):
    assert state_of(left) == state


def test_the_budget_left_is_the_share_not_spent():
    prom = Answers(E=30, T=10_000)  # 0.3% failed against a 0.5% budget: 60% spent
    reading = read_budget(prom, SLO)
    assert prom.asked == ["E[30d]", "T[30d]"]
    assert reading.left == pytest.approx(0.4) and reading.state == "warning"
    assert "30 of 10000 requests failed in the last 30d: 60.0% of the budget spent" in reading.detail


@pytest.mark.parametrize(("answers", "why"), [
    ({"E": [], "T": 5}, "E[30d] returned no data"),
    ({"E": 0, "T": []}, "T[30d] returned no data"),
    ({"E": 0, "T": 0}, "no requests counted in the last 30d"),
    ({"E": [1, 2], "T": 5}, "returned 2 series, not one"),
    ({"E": "NaN", "T": 5}, "returned nan"),
    ({"E": StackUnreachable("Prometheus /api/v1/query: parse error"), "T": 5}, "the query failed: Prometheus"),
    ({"E": -1_000_000, "T": 5}, "a count of requests is never negative"),
    ({"E": 0, "T": -5}, "a count of requests is never negative"),
    ({"E": 50, "T": 5}, "more errors than requests"),
])
def test_a_budget_that_cannot_be_read_is_unknown_and_says_why(answers, why):
    reading = read_budget(Answers(**answers), SLO)
    assert reading.state == "unknown" and reading.left is None and why in reading.detail


class Shapes:
    """Prometheus's other answer shapes, as ``Prometheus.query`` hands them on: a scalar or a string is one
    ``[time, value]`` pair, a range query's rows have ``values``."""

    def __init__(self, rows):
        self.rows = rows

    def query(self, expr):
        return self.rows


@pytest.mark.parametrize("rows, shape", [
    ([[0, "3"]], "a scalar or a string"),
    ([[0, "some text"]], "a scalar or a string"),
    ([{"metric": {}, "values": [[0, "1"], [1, "2"]]}], "a range of samples"),
    ([{"metric": {}, "value": [0, 3]}], "a scalar or a string"),
])
def test_an_answer_of_another_shape_fails_closed_in_one_line(rows, shape):
    """Once a scalar, range or string answer crashed the gate with a TypeError traceback."""
    reading = read_budget(Shapes(rows), SLO)
    assert reading.state == "unknown" and f"returned {shape}, not one series" in reading.detail


def test_only_healthy_and_warning_let_a_drill_run_unless_overridden():
    for state, forbids in (("healthy", False), ("warning", False), ("critical", True), ("emergency", True),
                           ("unknown", True)):
        assert Decision(True, state).forbids is forbids
        assert not Decision(True, state, override="approved by the SRE lead").forbids
    assert not Decision(False, why="created by this run").forbids


def test_the_decision_line_says_state_figures_policy_and_the_way_out():
    target = SimpleNamespace(name="external", created_by_run=False, prometheus=Answers(E=9, T=100))
    decision = ErrorBudgetGate([SLO], "slo.yaml").decide(target)
    line = decision.line()
    assert decision.forbids and decision.state == "emergency"
    assert "error budget emergency: avail (99.5% over 30d): -1700.0% left" in line
    assert "full freeze" in line and "--error-budget-override REASON" in line
    over = ErrorBudgetGate([SLO], "slo.yaml", override="game day approved by J. Doe").decide(target)
    assert not over.forbids and "overridden on purpose: game day approved by J. Doe" in over.line()


def test_the_worst_slo_decides():
    healthy = Slo(name="a", objective=99.0, window="1d", errors="E", total="T")
    unreadable = Slo(name="b", objective=99.0, window="1d", errors="X", total="T")
    target = SimpleNamespace(name="t", created_by_run=False,
                             prometheus=Answers(E=0, T=10, X=StackUnreachable("bad query")))
    decision = ErrorBudgetGate([healthy, unreadable], "slo.yaml").decide(target)
    assert decision.state == "unknown" and [r.state for r in decision.readings] == ["healthy", "unknown"]


def test_a_stack_the_run_created_is_not_gated_unless_asked():
    target = SimpleNamespace(name="lab", created_by_run=True, prometheus=Answers(E=9, T=10))
    assert not ErrorBudgetGate([SLO], "slo.yaml").decide(target).checked
    assert ErrorBudgetGate([SLO], "slo.yaml", always=True).decide(target).state == "emergency"


def test_no_slo_means_the_budget_cannot_be_read():
    target = SimpleNamespace(name="t", created_by_run=False, prometheus=Answers())
    decision = ErrorBudgetGate([], "config/slo.yaml").decide(target)
    assert decision.forbids and "no SLO is defined in config/slo.yaml" in decision.line()


def test_the_shipped_slo_file_is_valid():
    (slo,) = load_slos(ROOT / "config/slo.yaml")
    assert slo.objective == 99.5 and slo.window == "30d" and "[30d]" in slo.expr("total")


@pytest.mark.parametrize(("text", "field"), [
    ("slos:\n  - {name: a, objective: 100, window: 30d, errors: e, total: t}\n", "slos.0.objective"),
    ("slos:\n  - {name: a, objective: true, window: 30d, errors: e, total: t}\n", "slos.0.objective"),
    ("slos:\n  - {name: a, objective: .nan, window: 30d, errors: e, total: t}\n", "slos.0.objective"),
    ("slos:\n  - {name: a, objective: 99, window: 30 days, errors: e, total: t}\n", "slos.0.window"),
    ("slos:\n  - {name: a, objective: 99, window: 999d, errors: e, total: t}\n", "slos.0.window"),
    ("slos:\n  - {name: a, objective: 99, window: 1d, errors: e}\n", "slos.0.total"),
    ("slos:\n  - {name: a, objective: 99, window: 1d, errors: e, total: t, extra: 1}\n", "slos.0.extra"),
    ("[1, 2]\n", "(top level)"),
])
def test_an_invalid_slo_file_is_one_line_naming_the_field(tmp_path: Path, text, field):
    path = tmp_path / "slo.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_slos(path)
    assert err.value.field == field and str(path) in str(err.value) and "\n" not in str(err.value)
