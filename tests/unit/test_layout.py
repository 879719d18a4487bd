"""The engine speaks to a target, never to the lab: nothing in gameday/ outside gameday/lab/ imports it."""

from __future__ import annotations

import ast

from tests.conftest import ROOT


def imports_of(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_only_the_lab_package_imports_the_lab():
    offenders = []
    for path in sorted((ROOT / "gameday").rglob("*.py")):
        if (ROOT / "gameday" / "lab") in path.parents:
            continue
        offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in imports_of(path)
                      if name == "gameday.lab" or name.startswith("gameday.lab.")]
    assert offenders == []


def test_the_check_sees_an_import_of_the_lab(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("from gameday.lab.stack import Lab\nimport gameday.lab.supervisor\n")
    assert list(imports_of(sample)) == ["gameday.lab.stack", "gameday.lab.supervisor"]
