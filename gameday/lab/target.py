"""The embedded lab as a gameday target: a pytest plugin (entry point ``pytest11``) for ``--target lab``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float,
                               worker: str | None = None) -> Any:
    if name != "lab":
        return None
    from gameday.lab.stack import Lab, LabConfig

    rules, lab_config = config.getoption("gameday_rules"), config.getoption("lab_config")
    return Lab(LabConfig(Path(config.rootpath), lab_folder(reports, worker), time_scale,
                         rules_dir=Path(rules).resolve() if rules else None,
                         config_dir=Path(lab_config).resolve() if lab_config else None))


def pytest_gameday_mutation_stack(root: Path, name: str, config_dir: Path, work: Path) -> Any:
    """``gameday mutate`` on the lab: labs with the project's config, each loading the mutants in turn."""
    if name != "lab":
        return None
    from gameday.mutate.workers import lab_stack

    return lab_stack(config_dir)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Under ``-n`` each worker starts a lab of its own: a warm lab in ``reports/lab`` is not used, and says so."""
    from gameday.plugin.parallel import controller

    if not controller(config) or str(config.getoption("gameday_target") or config.getini("gameday_target")) != "lab":
        return []
    from gameday.lab.warmfile import find_warm

    reports = Path(config.getoption("gameday_reports") or Path(config.rootpath) / "reports")
    warm = find_warm(lab_folder(reports, None))
    if warm is None:
        return []
    return [f"gameday: the warm lab in {lab_folder(reports, None)} (pid {warm.get('pid')}) is not used under -n: "
            "each worker starts a lab of its own; drop -n to drill on it"]


def pytest_gameday_add_commands(subparsers: Any) -> dict[str, Any]:
    """``gameday lab up|down|status``: a warm lab (``gameday.lab.warm``)."""
    lab = subparsers.add_parser("lab", help="a warm lab: up keeps the embedded lab running between pytest sessions "
                                     "(a session with the same --reports, --time-scale, --rules and --lab-config "
                                     "drills on it; one with other options is refused with one line); down stops "
                                     "it; status says whether one is up")
    lab.add_argument("action", choices=("up", "down", "status"))
    lab.add_argument("--reports", type=Path, default=Path("reports"),
                     help="the reports folder the sessions use (default: reports/); the lab lives in REPORTS/lab")
    lab.add_argument("--time-scale", type=float, default=1.0, help="as pytest's --time-scale (default: 1)")
    lab.add_argument("--rules", type=Path, default=None, help="as pytest's --rules")
    lab.add_argument("--lab-config", type=Path, default=None, help="as pytest's --lab-config")
    lab.add_argument("--root", type=Path, default=Path("."), help="the project (default: the current folder)")

    def run(args: Any) -> int:
        from gameday.lab.warm import command

        return command(args)

    return {"lab": run}


def lab_folder(reports: Path, worker: str | None) -> Path:
    """The lab's folder: ``reports/lab``, or ``reports/lab-gw0`` ... for each pytest-xdist worker's own lab."""
    return reports / ("lab" if worker is None else f"lab-{worker}")


def pytest_gameday_sweep_leftovers(reports: Path) -> list[str]:
    """What labs killed with their harness left in ``reports/lab`` (and the workers' ``reports/lab-gw*``):
    their processes and their backends' cgroups go (``gameday revert`` asks; a lab that starts in its folder
    does the same first)."""
    folders = [reports / "lab", *sorted(reports.glob("lab-gw*"))]
    return [line for folder in folders if folder.is_dir() for line in sweep_lab(folder)]


def sweep_lab(workdir: Path) -> list[str]:
    """One lab folder's leftovers, swept; what was done (nothing while its harness is alive)."""
    from gameday.core.errors import HarnessError
    from gameday.lab.cgroups import lab_cgroup
    from gameday.lab.host import reap_leftovers
    from gameday.lab.stack import BACKEND

    try:
        reaped = reap_leftovers(workdir)
    except HarnessError:
        return []  # its harness is alive: a running lab is not a leftover
    group = lab_cgroup(workdir, BACKEND)
    had_group = group.dir("memory").exists()
    if had_group:
        reaped += group.kill_all()
        group.remove()
    if not reaped and not had_group:
        return []
    return [f"the lab in {workdir} was left by a killed run: {len(reaped)} process(es) ended"
            + (", its backend's cgroup removed" if had_group else "")]
