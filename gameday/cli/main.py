"""``gameday``: commands beside the pytest plugin.

  gameday revert [--reports DIR]   revert the faults that runs killed outright left open in the fault ledger
  gameday check [--root DIR] ...   the catalog offline: config valid, every alert with a runbook and a drill
  gameday report [--reports DIR]   the review of the newest run (review.md, review.html) from its journals, and
                                   allurerc.json, Allure 3's configuration for rendering the results
  gameday lab up|down|status [--reports DIR] [--time-scale N] ...
                                   a warm lab: kept up between pytest sessions, which drill on it when they
                                   ask for the same time scale, config and rules (from pytest to the first
                                   drill without the lab's start)
  gameday mutate [-k TEXT] [--min-score N] ...
                                   mutation testing: small breakages of the rules and routes, each drilled on a
                                   lab of its own; which ones no drill catches, and the score
  gameday ack [--reports DIR]      shadow exercise: acknowledge the page
  gameday do [--reports DIR] -- CMD...
                                   shadow exercise: run CMD with the target's addresses in its environment
                                   (GATEWAY, PROMETHEUS, ... as the runbooks use them), on the exercise's timeline
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from gameday.faults.ledger import Ledger
from gameday.faults.revert import revert_orphans
from gameday.plugin.extensions import plugins


def sweep_targets(reports: Path) -> list[str]:
    """Ask each plugin to clear what a run killed outright left of its target in ``reports``
    (``pytest_gameday_sweep_leftovers``: lines saying what it did)."""
    return [line for lines in plugins().hook.pytest_gameday_sweep_leftovers(reports=reports) for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gameday", description="game-day drills: commands beside the pytest plugin")
    sub = parser.add_subparsers(dest="command", required=True)
    rev = sub.add_parser("revert", help="revert the faults that runs killed outright left open (see the ledger)")
    rev.add_argument("--reports", type=Path, default=Path("reports"),
                     help="the reports folder whose fault-ledger.jsonl to read (default: reports/)")
    chk = sub.add_parser("check", help="check the catalog offline: promtool and amtool on the config, a runbook "
                                       "with its sections for every alerting rule, every rule drilled by a scenario "
                                       "(the coverage table), every SLA at or above its floor; exit 1 on a problem")
    chk.add_argument("--root", type=Path, default=Path("."), help="the project (default: the current folder)")
    chk.add_argument("--config", type=Path, default=None, help="the config folder (default: ROOT/config)")
    chk.add_argument("--rules", type=Path, default=None,
                     help="the rule files (default: CONFIG/prometheus/rules)")
    chk.add_argument("--scenarios", type=Path, default=None, help="the scenario folder (default: ROOT/scenarios)")
    chk.add_argument("--target", default=None, metavar="NAME",
                     help="check the scenarios against a live target instead (targets/NAME.yaml): reachable, "
                          "credentials accepted, each expected alert a loaded rule routed to its receiver, each "
                          "SLA at or above the floor of that stack's own intervals, every live rule drilled")
    rep = sub.add_parser("report", help="write the review of a run (review.md and review.html, with each drill's "
                                        "plot) from its journals")
    rep.add_argument("--reports", type=Path, default=Path("reports"),
                     help="the reports folder whose drills/ to read (default: reports/)")
    rep.add_argument("--out", type=Path, default=None, help="where to write the review (default: REPORTS/review)")
    rep.add_argument("--run", default=None, help="the run to review (a journal's `run`; default: the newest)")
    rep.add_argument("--root", type=Path, default=Path("."), help="the project, for runbooks and config/slo.yaml")
    mut = sub.add_parser("mutate", help="mutation testing of the alerting: each small breakage of a rule or a "
                                        "route, on a copy, drilled by the drills that cover it on labs that "
                                        "load each mutant in turn; prints which breakages no drill catches; "
                                        "exit 1 below --min-score")
    mut.add_argument("--root", type=Path, default=Path("."), help="the project (default: the current folder)")
    mut.add_argument("--config", type=Path, default=None, help="the config folder (default: ROOT/config)")
    mut.add_argument("--scenarios", type=Path, default=None, help="the scenario folder (default: ROOT/scenarios)")
    mut.add_argument("-k", dest="select", default=None, metavar="TEXT", action="append",
                     help="only the mutants whose id contains TEXT or that touch the alert TEXT (ids: "
                          "ALERT:OPERATOR, route-PATH:OPERATOR); again for more")
    mut.add_argument("--min-score", type=float, default=None, metavar="N",
                     help="exit 1 when the score (percent of judged mutants killed) is below N")
    mut.add_argument("--time-scale", type=float, default=None, metavar="N",
                     help="the labs' time scale (default 60: a five-minute rule fires in five seconds; a team's "
                          "stack runs at 1)")
    mut.add_argument("--long-scale", type=float, default=None, metavar="N",
                     help="the time scale of the drills that would take over 2 minutes at --time-scale (the slow "
                          "burn's), on labs of their own, their baseline too (default: 4 x --time-scale; "
                          "0: every drill at --time-scale)")
    mut.add_argument("--reports", type=Path, default=Path("reports"),
                     help="where mutate.json and each mutant's drills go (default: reports/, in mutants/)")
    mut.add_argument("--workers", type=int, default=2, metavar="N",
                     help="labs side by side, each started once and loading its share of the mutants in turn "
                          "(default 2)")
    mut.add_argument("--alluredir", type=Path, default=None, metavar="DIR",
                     help="where each mutant's Allure result goes (default: REPORTS/allure-results, beside the "
                          "drills')")
    mut.add_argument("--list", action="store_true", help="list the mutants and what covers each, drill nothing")
    mut.add_argument("--target", default=None, metavar="NAME",
                     help="mutate a team's alerting (targets/NAME.yaml): read once from its live Prometheus and "
                          "Alertmanager, never written to them, and drilled on a shadow pair gameday starts on "
                          "loopback (the team's rules and routes, its exporters scraped, every receiver gameday's "
                          "webhook), one drill at a time, in real time; default: the embedded lab")
    mut.add_argument("--error-budget-override", default=None, metavar="REASON",
                     help="as pytest's: drill a team's services although the error-budget gate would skip them "
                          "(recorded in every drill's journal)")
    commands: dict[str, Callable[[argparse.Namespace], int]] = {}
    for added in plugins().hook.pytest_gameday_add_commands(subparsers=sub):  # the lab's: gameday lab up|down
        commands.update(added)
    ack = sub.add_parser("ack", help="shadow exercise: acknowledge the page (as the pager's button does)")
    ack.add_argument("--reports", type=Path, default=Path("reports"), help="the exercise's reports folder")
    do = sub.add_parser("do", help="shadow exercise: run a command with the target's addresses in its environment "
                                   "and put it on the exercise's timeline (one argument: run by bash)")
    do.add_argument("--reports", type=Path, default=Path("reports"), help="the exercise's reports folder")
    do.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    if args.command in ("ack", "do"):
        from gameday.shadow.pager import helper

        return helper(args.command, args.reports, getattr(args, "cmd", []))
    if args.command in commands:
        return commands[args.command](args)
    if args.command == "report":
        return report(args.reports, args.out or args.reports / "review", args.root.resolve(), args.run)
    if args.command == "check" and args.target:
        root = args.root.resolve()
        found = plugins().hook.pytest_gameday_check_target(root=root, name=args.target,
                                                           scenarios=(args.scenarios or root / "scenarios").resolve())
        if found is None:
            print(f"gameday check: --target {args.target}: no targets/{args.target}.yaml in {root}, and no plugin's")
            return 2
        ok, lines = found
        print("\n".join(lines))
        return 0 if ok else 1
    if args.command == "check":
        return check(args.root.resolve(), args.config, args.rules, args.scenarios)
    if args.command == "mutate":
        return mutate(args)
    ledger = Ledger(args.reports / "fault-ledger.jsonl")
    if not ledger.path.exists():
        print(f"gameday: no fault ledger at {ledger.path}: nothing to revert")
        return 0
    states = revert_orphans(ledger)
    for line in sweep_targets(args.reports):
        print(f"gameday: {line}")
    open_now = ledger.pending()
    if not states:
        print(f"gameday: no fault left open by a dead run in {ledger.path}"
              + (f" ({len(open_now)} held by running harnesses)" if open_now else ""))
    return 1 if "abandoned" in states else 0


def report(reports: Path, out: Path, root: Path, run: str | None) -> int:
    import time

    from gameday.report.review import write_review

    t0 = time.monotonic()
    written = write_review(reports, out, root, run)
    if written is None:
        print(f"gameday report: no journal of {'run ' + run if run else 'any run'} in {reports / 'drills'}")
        return 1
    md, html = written
    print(f"gameday report: {html} and {md} ({time.monotonic() - t0:.1f}s)")
    from gameday.report.allure import write_allure_config

    write_allure_config(reports / "allurerc.json", reports / "allure-history.jsonl")
    return 0


def mutate(args: argparse.Namespace) -> int:
    from gameday.core.errors import GamedayError
    from gameday.mutate.report import render, write_allure, write_json
    from gameday.mutate.run import catalog, covering, mutants_of
    from gameday.mutate.run import mutate as run_mutants

    root = args.root.resolve()
    config = (args.config or root / "config").resolve()
    scenarios = (args.scenarios or root / "scenarios").resolve()
    name = args.target or "lab"
    for option, folder in (("--config", config if name == "lab" else None), ("--scenarios", scenarios)):
        if folder is not None and not folder.is_dir():
            print(f"gameday mutate: {option} {folder}: no such folder")
            return 2
    work = args.reports.resolve() / "mutants"
    try:
        stack = plugins().hook.pytest_gameday_mutation_stack(root=root, name=name, config_dir=config, work=work)
    except GamedayError as exc:
        print(f"gameday mutate: --target {name}: {exc}")
        return 2
    if stack is None:
        print(f"gameday mutate: --target {name}: no such target (the lab, or a team's targets/{name}.yaml in {root})")
        return 2
    for line in stack.said:
        print(f"gameday mutate: {line}", flush=True)
    config = stack.config_dir
    scale = stack.time_scale or args.time_scale or 60.0
    if args.time_scale is not None and scale != args.time_scale:
        print(f"gameday mutate: --time-scale {args.time_scale:g}: the {name} target runs at {scale:g} only (its "
              "services run in real time)")
        return 2
    workers = min(args.workers, stack.workers or args.workers)
    if workers < args.workers:
        print(f"gameday mutate: one session at a time on {name}: every drill faults the same services")
    if args.list:
        cat = catalog(root, config, scenarios)
        for m in mutants_of(root, config, cat):
            drills = covering(m, cat)
            print(f"{m.id:50} {m.diff[:80]}  drilled by: {', '.join(drills) or 'none'}")
        return 0
    if args.workers < 1:
        print(f"gameday mutate: --workers {args.workers}: at least 1")
        return 2
    extra = ["--error-budget-override", args.error_budget_override] if args.error_budget_override else []
    long_scale = None if stack.time_scale else 4 * scale if args.long_scale is None else args.long_scale
    try:
        run = run_mutants(root, config, scenarios, work, args.select, scale,
                          say=lambda line: print(line, flush=True), workers=workers, stack=stack, extra=extra,
                          long_scale=long_scale)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"gameday mutate: interrupted (signal {signum}): every session was stopped and reverted its fault; "
              "no score, and no mutate.json")
        return 2
    print(render(run))
    write_json(run, args.reports / "mutate.json")
    allure_dir = args.alluredir or args.reports / "allure-results"
    wrote = write_allure(run, allure_dir)
    print(f"gameday mutate: {args.reports / 'mutate.json'}; {wrote} Allure result(s) in {allure_dir}")
    if not run.results:
        print(f"gameday mutate: no mutant{' matches -k ' + ', '.join(args.select) if args.select else ''}")
        return 2
    if args.min_score is not None and (run.score is None or run.score < args.min_score):
        print(f"gameday mutate: score below --min-score {args.min_score:g}")
        return 1
    return 0


def check(root: Path, config: Path | None, rules: Path | None, scenarios: Path | None) -> int:
    import shutil

    from gameday.cli.check import check_catalog, render

    for name, folder in (("--config", config), ("--rules", rules), ("--scenarios", scenarios)):
        if folder is not None and not folder.is_dir():
            print(f"gameday check: {name} {folder}: no such folder")
            return 2
    result = check_catalog(root, config and config.resolve(), rules and rules.resolve(),
                           scenarios and scenarios.resolve())
    print(render(result, min(shutil.get_terminal_size((120, 20)).columns, 160)))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
