"""A team's target file as a gameday target: a pytest plugin (entry point ``pytest11``) that answers
``--target NAME`` when ``targets/NAME.yaml`` exists in the project (or ``--target`` names a ``.yaml`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def target_file(root: Path, name: str) -> Path | None:
    """The target file ``--target NAME`` means, or None when it names none (the lab, compose, a plugin's)."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    path = root / "targets" / f"{name}.yaml"
    return path if path.is_file() else None


def load_target_file(path: Path, shown: str | None = None) -> Any:
    """The target file, validated; one ``ConfigError`` line naming file (as ``shown``), field and reason when it is
    wrong."""
    from gameday.scenario.files import read_yaml, validated
    from gameday.team.model import TargetFile

    shown = str(path) if shown is None else shown
    return validated(read_yaml(path, shown, what="a target file"), TargetFile, shown)


def pytest_gameday_add_commands(subparsers: Any) -> dict[str, Any]:
    """``gameday target new``: a target file and draft scenarios from a live stack (``gameday.team.draft``)."""
    target = subparsers.add_parser("target", help="a team's own stack: `gameday target new NAME --prometheus URL "
                                                  "--alertmanager URL` writes targets/NAME.yaml and a draft scenario "
                                                  "for each alerting rule the live Prometheus has, at the receiver "
                                                  "the live Alertmanager routes it to")
    target.add_argument("action", choices=("new",))
    target.add_argument("name", help="the target's name: --target NAME drills it")
    target.add_argument("--prometheus", required=True, help="the team's Prometheus base URL")
    target.add_argument("--alertmanager", required=True, help="the team's Alertmanager base URL")
    target.add_argument("--allow", action="append", default=None, metavar="NETWORK",
                        help="a network the URLs may be in (again for more; default: loopback only); written to "
                             "the target file's safety.allow")
    reach = target.add_argument_group("how the harness reaches both servers (written to the target file's "
                                      "monitoring; a secret is named, never written)")
    reach.add_argument("--ca-file", metavar="FILE", help="the CA that signed their TLS certificates")
    reach.add_argument("--server-name", metavar="NAME", help="the name their certificates carry, where the URLs' "
                                                            "host is an address")
    reach.add_argument("--username", metavar="NAME", help="basic auth's user (with --password-file or "
                                                         "--password-env)")
    secret = reach.add_mutually_exclusive_group()
    secret.add_argument("--password-file", metavar="FILE", help="basic auth's password: the first line of FILE")
    secret.add_argument("--password-env", metavar="VAR", help="basic auth's password: the variable VAR")
    secret.add_argument("--bearer-file", metavar="FILE", help="a bearer token: the first line of FILE")
    secret.add_argument("--bearer-env", metavar="VAR", help="a bearer token: the variable VAR")
    target.add_argument("--root", type=Path, default=Path("."), help="the project (default: the current folder)")
    target.add_argument("--force", action="store_true", help="write over a target file or scenario that exists")

    def run(args: Any) -> int:
        import re

        from gameday.core.errors import GamedayError
        from gameday.team.draft import access_of, draft_target
        from gameday.team.model import SERVICE_NAME

        if not re.match(SERVICE_NAME, args.name):
            print(f"gameday target new: {args.name!r}: a name is letters, digits, '.', '_' and '-'")
            return 2
        try:
            lines = draft_target(args.name, args.prometheus, args.alertmanager, args.root.resolve(),
                                 args.allow or ["127.0.0.0/8", "::1/128"], force=args.force,
                                 access=access_of(args))
        except GamedayError as exc:
            print(f"gameday target new: {exc}".replace("gameday target new: gameday target new: ",
                                                     "gameday target new: "))
            return 1
        for line in lines:
            print(f"gameday target new: {line}")
        return 0

    return {"target": run}


def pytest_gameday_check_target(root: Path, name: str, scenarios: Path) -> Any:
    if target_file(root, name) is None:
        return None
    from gameday.team.check import check_live

    return check_live(root, lambda: team_target(root, name), scenarios)


def team_target(root: Path, name: str) -> Any:
    """The team's target ``--target NAME`` means (not started), or None when no target file is named."""
    path = target_file(root, name)
    if path is None:
        return None
    from gameday.team.target import TeamTarget

    return TeamTarget(load_target_file(path, _shown(root, path)), _shown(root, path))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("gameday mutate").addoption(
        "--mirror-config", default=None, metavar="DIR",
        help="(gameday mutate) drill the team's target on a shadow pair running this config folder "
             "(gameday.team.mirror)")


def pytest_gameday_make_target(config: pytest.Config, name: str, reports: Path, time_scale: float,
                               worker: str | None = None) -> Any:
    root = Path(config.rootpath)
    folder = config.getoption("mirror_config", None)
    if folder and (path := target_file(root, name)) is not None:
        from gameday.team.mirror import MirrorTarget

        return MirrorTarget(load_target_file(path, _shown(root, path)), _shown(root, path), Path(folder).resolve(),
                            reports / "mirror", time_scale, root / "runbooks")
    return team_target(root, name)


def _shown(root: Path, path: Path) -> str:
    return str(path.relative_to(root)) if path.is_absolute() and path.is_relative_to(root) else str(path)


def pytest_gameday_mutation_stack(root: Path, name: str, config_dir: Path, work: Path) -> Any:
    """``gameday mutate --target NAME`` on a team's stack: its alerting read from its live servers, drilled on a
    shadow pair (``gameday.team.mirror``); nothing is written to the team's servers."""
    target = team_target(root, name)
    if target is None:
        return None
    from gameday.team.mirror import mutation_stack

    return mutation_stack(root, name, target, work)
