"""The house by stage: each stage of a drill is one room (a package under ``gameday/``), and the rooms keep
their order. The engine never imports a target, observation is a leaf, reporting is never in a revert's path,
no import goes round in a circle (between modules or between rooms), and no module is over 400 lines."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.conftest import ROOT

TARGETS = ("gameday.lab", "gameday.compose", "gameday.k8s", "gameday.team")
"""Targets: plugins that implement the protocol. The engine (everything else) speaks only to the protocol."""
LIMIT = 400


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    files = [*(ROOT / "gameday").rglob("*.py"), *(ROOT / "assertions").rglob("*.py")]
    return {module_of(p): p for p in files}


def type_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:``: imports for annotations, never run."""
    guarded = [b for b in ast.walk(tree) if isinstance(b, ast.If) and "TYPE_CHECKING" in ast.unparse(b.test)]
    return {id(n) for block in guarded for stmt in block.body for n in ast.walk(stmt)}


def imports_of(path: Path) -> list[str]:
    """Every module an import names, at the top or inside a function (a late import is still an import); an
    import under ``if TYPE_CHECKING:`` is a type, not an import, and does not count."""
    out = []
    tree = ast.parse(path.read_text(), str(path))
    skip = type_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules()]
            if len(subs) < len(node.names):  # names defined in the module itself, not only its submodules
                out.append(node.module)
            out += subs
    return out


@cache
def graph() -> dict[str, set[str]]:
    return {m: {i for i in imports_of(p) if i in modules() and i != m} for m, p in modules().items()}


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "gameday" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2]) if (ROOT / "gameday" / parts[1]).is_dir() else "gameday"


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def reach(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph().get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_engine_never_imports_a_target():
    offenders = [f"{m} imports {i}" for m, deps in graph().items() if not any(under(m, t) for t in TARGETS)
                 for i in deps if any(under(i, t) for t in TARGETS)]
    assert offenders == []


def test_observation_is_a_leaf_on_the_foundation():
    offenders = [f"{m} imports {i}" for m, deps in graph().items() if under(m, "gameday.observe")
                 for i in deps if not (under(i, "gameday.observe") or under(i, "gameday.core"))]
    assert offenders == []


def test_reporting_is_never_in_a_reverts_path():
    """What reverts a fault (the faults and their reverters, the watchdog, ``gameday revert``) reaches no report
    module, however many imports away: a broken plot can never stand between a fault and its revert."""
    reverting = [m for m in graph() if under(m, "gameday.faults") or m.endswith((".faults", ".surge"))
                 or m == "gameday.lab.cgroups"]
    assert len(reverting) >= 8
    offenders = {m: sorted(i for i in reach(m) if under(i, "gameday.report")) for m in reverting}
    assert {m: r for m, r in offenders.items() if r} == {}


def test_no_import_goes_round_in_a_circle():
    assert circles(graph()) == []
    rooms: dict[str, set[str]] = {}
    for m, deps in graph().items():
        rooms.setdefault(room_of(m), set()).update(room_of(i) for i in deps if room_of(i) != room_of(m))
    assert circles(rooms) == []


def test_every_stage_is_a_room_and_no_module_is_over_the_limit():
    rooms = {room_of(m) for m in modules()}
    for stage in ("core", "scenario", "target", "load", "faults", "observe", "pipeline", "record", "drill",
                  "report", "shadow", "plugin", "cli"):
        assert f"gameday.{stage}" in rooms
    flat = sorted(m for m in modules() if room_of(m) == "gameday" and m != "gameday")
    assert flat == []
    long = {m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > LIMIT}
    assert long == {}


def test_the_checks_see_what_they_look_for(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("from gameday.lab.stack import Lab\nimport gameday.lab.supervisor\n"
                      "def f():\n    from gameday.core import clock\n"
                      "if TYPE_CHECKING:\n    from gameday.drill.context import PhaseContext\n")
    names = imports_of(sample)
    assert names[:2] == ["gameday.lab.stack", "gameday.lab.supervisor"] and "gameday.core.clock" in names
    assert "gameday.drill.context" not in names
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert room_of("gameday.drill.runner") == "gameday.drill" and room_of("assertions.alerts") == "assertions"
