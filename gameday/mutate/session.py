"""A worker of ``gameday mutate``: one pytest session drills many mutants on one target, started once (the lab,
with ``-p gameday.lab.mutation``; a team's shadow pair, with ``--mirror-config``: ``gameday.team.mirror``).

``--mutants PLAN`` names a JSON list of mutants, each ``{"id", "config", "alerts", "scenarios"}`` (``config``: the
mutant's copy of the config folder). Each (mutant, covering scenario) is one test, in the plan's order. The target
starts with the first mutant's config (the target plugin's option); before each later drill its alerting is made
fresh, as on a target just started, with the next mutant's config when the mutant changes (the target's
``fresh_alerting(config_dir | None)``: the lab's ``gameday.lab.reload``, the pair's restart), while its services
and their load go on. Once a drill FAILS naming an alert the mutant touched, the
mutant is killed and its other drills are skipped: nothing they say could change that. Each drill's verdict and
reasons go to ``--mutant-results`` (JSON lines), which ``gameday mutate`` reads as they come.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gameday.core.errors import GamedayError
from gameday.mutate.mutants import kills
from gameday.mutate.workers import claim_name
from gameday.plugin import scenario_catalog
from gameday.plugin.keys import RECORDS


@dataclass
class _State:
    loaded: str | None = None
    """The mutant whose config the lab holds."""
    killed: dict[str, str] = field(default_factory=dict)
    """Killed mutants, and the scenario that killed each."""
    mine: dict[str, bool] = field(default_factory=dict)
    """Whether this session claimed each mutant it has come to."""
    scenarios: dict[str, Any] | None = None
    """The catalog's entries by id, read once per session."""


STATE = pytest.StashKey[_State]()
TIMING = ("beyond its SLA", "beyond its MTTR goal", "not resolved within")
"""The FAILs that a slow machine can bring about on its own: a kill by one of them is checked on the config as
it is."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameday mutate")
    group.addoption("--mutants", default=None, metavar="PLAN", help="(gameday mutate) the mutants to drill")
    group.addoption("--mutant-results", default=None, metavar="FILE", help="(gameday mutate) where verdicts go")
    group.addoption("--mutant-original", default=None, metavar="DIR",
                    help="(gameday mutate) the config as it is, which a kill by a late page is checked against")
    group.addoption("--mutant-claims", default=None, metavar="DIR",
                    help="(gameday mutate) where the sessions claim mutants (one session drills each)")


def _plan(config: pytest.Config) -> list[dict[str, Any]]:
    path = config.getoption("mutants")
    return json.loads(Path(path).read_text()) if path else []


def pytest_configure(config: pytest.Config) -> None:
    plan = _plan(config)
    config.stash[STATE] = _State(loaded=plan[0]["id"] if plan else None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mutant_case" not in metafunc.fixturenames:
        return
    cases = [pytest.param((m, sid), id=f"{m['id']}@{sid}") for m in _plan(metafunc.config) for sid in m["scenarios"]]
    metafunc.parametrize("mutant_case", cases)


def _write(config: pytest.Config, line: dict[str, Any]) -> None:
    path = config.getoption("mutant_results")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(line | {"ended": time.time()}) + "\n")


def _claimed(config: pytest.Config, state: _State, mutant: str) -> bool:
    """Whether this session drills ``mutant`` (its claim name): the first session to make its folder in the claims
    folder does."""
    if mutant not in state.mine:
        claims = config.getoption("mutant_claims")
        if not claims:
            state.mine[mutant] = True
        else:
            folder = Path(claims) / mutant
            try:
                folder.mkdir()
            except FileExistsError:
                state.mine[mutant] = False
            else:
                (folder / str(os.getpid())).touch()
                state.mine[mutant] = True
    return state.mine[mutant]


def drill_mutant(mutant_case: tuple[dict[str, Any], str], run_drill: Any, gameday_target_on_demand: Any,
                 request: pytest.FixtureRequest) -> None:
    """One covering drill of one mutant, on the session's target holding that mutant's config."""
    mutant, sid = mutant_case
    config, state = request.config, request.config.stash[STATE]
    claim = mutant.get("claim") or claim_name(mutant["id"])
    base = {"mutant": mutant["id"], "claim": claim, "scenario": sid, "started": time.time()}
    if not _claimed(config, state, claim):
        pytest.skip(f"{mutant['id']} is another session's")
    if mutant["id"] not in state.killed and (by := _killed_elsewhere(config, mutant["id"])):
        state.killed[mutant["id"]] = f"{by} (on another lab)"
    if mutant["id"] in state.killed:
        _write(config, base | {"verdict": "NOT RUN", "reasons": [f"killed by {state.killed[mutant['id']]}"]})
        pytest.skip(f"{mutant['id']} is killed already (by {state.killed[mutant['id']]})")
    if state.scenarios is None:
        state.scenarios = {e.id: e for e in scenario_catalog(config)}
    entries = state.scenarios
    scenario = entries[sid].scenario
    assert scenario is not None, f"{sid}: {entries[sid].error}"
    try:
        # every drill as on a lab just started, with its mutant's config; the lab starts with the plan's first
        started_now = gameday_target_on_demand.target is None
        lab = gameday_target_on_demand.get()
        if started_now:
            state.loaded = _plan(config)[0]["id"]
        if not (started_now and state.loaded == mutant["id"]):
            lab.fresh_alerting(Path(mutant["config"]) if state.loaded != mutant["id"] else None)
    except Exception as exc:
        _write(config, base | {"verdict": "ERROR", "reasons": [f"the target's alerting was not made fresh: {exc}"]})
        raise
    state.loaded = mutant["id"]
    verdict, reasons, failed = _drill(config, run_drill, scenario)
    original = config.getoption("mutant_original")
    if (kills(mutant["alerts"], verdict, reasons) and original and any(t in reasons[0] for t in TIMING)
            and not request.session.shouldstop):
        # a page a little late may be the machine's doing: the kill stands only if the config as it is passes
        # the same drill, on the same lab, at once
        lab.fresh_alerting(Path(original))
        state.loaded = "(original)"
        again, said, _ = _drill(config, run_drill, scenario)
        if again != "PASS":
            verdict, reasons = "ERROR", [f"{reasons[0]}; but the config as it is did not pass this drill either, "
                                         f"run at once after ({again}: {(said or [''])[0][:160]}): the machine was "
                                         "slow, not the mutant"]
    _write(config, base | {"verdict": verdict, "reasons": reasons})
    if kills(mutant["alerts"], verdict, reasons):
        state.killed[mutant["id"]] = sid
        if claims := config.getoption("mutant_claims"):  # a lab of another scale class drilling it stops too
            (Path(claims) / f"{claim_name(mutant['id'])}.killed").write_text(sid)
    if failed is not None:
        raise failed


def _killed_elsewhere(config: pytest.Config, mutant: str) -> str | None:
    """The drill that killed ``mutant`` in another session (of another scale class), or None."""
    claims = config.getoption("mutant_claims")
    try:
        return (Path(claims) / f"{claim_name(mutant)}.killed").read_text() if claims else None
    except OSError:
        return None


def _drill(config: pytest.Config, run_drill: Any, scenario: Any) -> tuple[str, list[str], BaseException | None]:
    """Run one drill: its verdict, its reasons, and what it raised (a non-PASS is the test's outcome)."""
    records = config.stash[RECORDS]
    seen = len(records)
    raised: BaseException | None = None
    try:
        run_drill(scenario)
    except (AssertionError, pytest.skip.Exception, GamedayError) as exc:  # a verdict; an interruption goes on up
        raised = exc
    mine = records[seen:]
    if not mine:
        return "ERROR", ["the drill left no record"], raised
    return str(mine[-1].verdict), list(mine[-1].reasons), raised
