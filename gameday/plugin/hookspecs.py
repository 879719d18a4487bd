"""Every extension point of gameday, declared: the hooks a plugin implements.

A target plugin (the lab's ``gameday.lab.target``, Compose's ``gameday.compose.target``, a team's own) is a
module that implements some of these. pytest loads it through its ``pytest11`` entry point and checks each
``pytest_gameday_*`` function against these specs; the ``gameday`` command loads the same modules through the
entry point group ``gameday.plugins`` and calls the same hooks (``gameday.plugin.extensions``). A plugin adds
its own pytest options with pytest's own ``pytest_addoption``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("pytest")


@hookspec(firstresult=True)
def pytest_gameday_make_target(config: Any, name: str, reports: Path, time_scale: float,
                               worker: str | None) -> Any:
    """Return the target called ``name`` (not yet started), or None when this plugin has no such target.

    The object implements ``gameday.target.protocol.Target`` (and any of its declared optional members,
    ``gameday.target.protocol.OPTIONAL``) and is a context manager: gameday enters it on the first drill of the
    session and exits it at the end. ``reports`` is the session's reports folder. ``worker`` is the
    pytest-xdist worker this session is (``gw0``, ``gw1`` ...), None without ``-n``: each worker drills on a
    target of its own, so what a target keeps on disk or names must not collide with another worker's. A
    target the run did not create is refused under ``-n``.
    """


@hookspec
def pytest_gameday_sweep_leftovers(reports: Path) -> list[str]:
    """Clear what a run that was killed outright left of this plugin's target in ``reports`` (processes, a
    cgroup, containers); return lines saying what was done. Called by ``gameday revert`` after the ledger's
    faults are reverted."""


@hookspec
def pytest_gameday_add_commands(subparsers: argparse._SubParsersAction) -> dict[str, Any]:
    """Add this plugin's own ``gameday`` subcommands (the lab's ``gameday lab up|down|status``); return each
    command's name with the function that runs it (``args -> exit status``)."""


@hookspec(firstresult=True)
def pytest_gameday_check_target(root: Path, name: str, scenarios: Path) -> tuple[bool, list[str]] | None:
    """``gameday check --target NAME``: check the scenarios in ``scenarios`` against the live target called
    ``name`` (reachable, credentials accepted, each expected alert a loaded rule routed to its receiver, each SLA
    at or above the floor of that stack's own intervals, every live rule drilled); return (clean, lines), or None
    when this plugin has no such target."""


@hookspec(firstresult=True)
def pytest_gameday_mutation_stack(root: Path, name: str, config_dir: Path, work: Path) -> Any:
    """``gameday mutate --target NAME``: where the mutants of the target called ``name`` are drilled, as a
    ``gameday.mutate.workers.Stack`` (the config folder it runs, in the lab's layout, which the mutants are made
    from; the pytest arguments that give a session that target with one mutant's copy of it), or None when this
    plugin has no such target. ``config_dir`` is the project's config folder (``--config``); ``work`` a folder
    the plugin may write in. Nothing may be written to a stack the harness does not own: a team's stack is
    drilled on a shadow pair (``gameday.team.mirror``)."""
