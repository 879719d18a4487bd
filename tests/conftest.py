"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytester"]

# Under ``pytest -n N`` (the README's test command runs three workers) tests run side by side, each drill on a lab
# of its own with ports of its own. Tests that share one thing run on one worker, one after the other: the Docker
# engine's stacks and image, or a module's lab that each worker would otherwise start again. Tests marked
# ``whole_machine`` are left out of that run and run after it, alone (``./run tests``).
SHARED = {"test_compose.py": "docker", "test_compose_drills.py": "docker", "test_chaos.py": "docker",
          "test_team_containers.py": "docker",
          "test_k8s_drills.py": "k8s cluster", "test_k8s_faults.py": "k8s cluster",  # one cluster per machine
          "test_team_k8s.py": "k8s cluster",
          "test_lab.py": "lab fixture", "test_verdict_outcomes.py": "fake-target fixture"}


# The longest tests (seconds on one worker, measured), handed out first so that no worker is left with one of them
# at the end while the others sit idle; the Docker engine's tests go before them, being one long queue together.
LONGEST = ("test_a_slow_burn_pages_while_its_budget_leak_opens_a_ticket",  # 185
           "test_a_slowed_rule_is_a_regression_against_its_history",  # 115
           "test_two_workers_kill_the_rule_mutants_a_drill_can_tell_and_a_survivor_says_what_would_catch_it",
           "test_each_broken_rule_makes_its_drill_fail",  # 86
           "test_a_trainee_acknowledges_mitigates_with_the_runbook_and_gets_a_debrief",  # 82
           "test_sessions_drill_on_a_warm_lab_which_restores_itself_when_a_session_dies_holding_a_fault",  # 52
           "test_back_to_back_outages_each_page",  # 45
           "test_mutants_of_a_teams_alerting_run_on_a_shadow_pair_and_leave_its_monitoring_as_it_was",  # 72
           "test_a_forged_page_never_turns_a_rule_that_cannot_fire_into_a_pass",  # 40
           "test_target_new_drafts_a_catalog_that_drills_nothing_until_a_person_names_the_fault")  # 36


def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n`` only: the Docker engine's tests first, then ``LONGEST``, then the rest as collected.
    The scheduler hands out work in this order; run alone, tests keep theirs (a module's fixtures set up once)."""
    if not hasattr(config, "workerinput"):
        return

    def rank(item: pytest.Item) -> int:
        if SHARED.get(item.path.name) in ("docker", "k8s cluster"):  # the long groups: their worker starts at once
            return 0
        name = item.name.split("[", 1)[0]
        return 1 + LONGEST.index(name) if name in LONGEST else len(LONGEST) + 1

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling, with the scopes above (its ``xdist_group`` marker is not read with this
    pytest: the group is added to a node id that pytest no longer takes from ``_nodeid``)."""
    if config.getoption("dist", "no") == "no":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED.get(Path(nodeid.split("::", 1)[0]).name, nodeid)

    return SharedFirst(config, log)


@pytest.fixture
def root() -> Path:
    return ROOT


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def pytester(pytester, monkeypatch):
    """In-process pytest runs leave out Hypothesis's pytest plugin, as the project's own runs do (``pyproject.toml``):
    a run that stops at a usage error would leave that plugin counting Hypothesis as still initialising, and every
    later property test in the session would warn."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    return pytester


DRILL_TEST = """
def test_drill(scenario, run_drill):
    run_drill(scenario)
"""


@pytest.fixture
def project(pytester, root):
    """For the plugin's tests: a project folder with the real runbooks and locustfiles, and a scenarios/ of its own."""
    for folder in ("runbooks", "locustfiles"):
        shutil.copytree(root / folder, pytester.path / folder)
    (pytester.path / "scenarios").mkdir()
    pytester.makepyfile(test_drills=DRILL_TEST)
    return pytester
