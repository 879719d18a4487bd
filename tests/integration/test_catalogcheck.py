"""``gameday check``: the catalog offline, with promtool and amtool, on copies of the project's own files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gameday.cli.check import check_catalog, render
from gameday.cli.main import main
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None or shutil.which("amtool") is None,
                                reason="needs promtool and amtool (Debian: prometheus, prometheus-alertmanager)")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the catalog: config, scenarios, runbooks, locustfiles."""
    for folder in ("config", "scenarios", "runbooks", "locustfiles"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


RULES = "config/prometheus/rules/inference.yml"


def test_the_shipped_catalog_passes_with_every_rule_drilled(capsys):
    result = check_catalog(ROOT)
    assert result.ok, result.problems
    assert all(row.drilled_by for row in result.coverage)
    assert main(["check", "--root", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "NOT DRILLED" not in out and "0 problems" in out and "ServiceDown" in out


def test_an_undrilled_rule_fails_the_check_and_is_named(project, capsys):
    for name in ("service-outage", "gateway-down-runbook"):  # every drill that expects ServiceDown
        (project / f"scenarios/{name}.yaml").unlink()
    assert main(["check", "--root", str(project)]) == 1
    out = capsys.readouterr().out
    assert "NOT DRILLED" in out
    assert "groups[0].rules[0]: ServiceDown: no scenario expects this alert: it is never drilled" in out


def problems_after(project: Path, path: str, old: str, new: str) -> list[str]:
    edit(project / path, old, new)
    return check_catalog(project).problems


def test_a_rule_promtool_refuses_is_one_line(project):
    (problem,) = problems_after(project, RULES, "== 0", "== == 0")
    assert problem.endswith("inference.yml: groups[0].rules[0].expr: invalid promql query"), problem


def test_a_template_only_promtool_can_read_is_caught_by_promtool(project):
    (problem,) = problems_after(project, RULES, "{{ $labels.instance }}", "{{ $labels.instance")
    assert "promtool check failed" in problem and '"ServiceDown": annotation "summary"' in problem, problem


def test_a_route_amtool_refuses_is_one_line(project):
    problems = problems_after(project, "config/alertmanager/alertmanager.yml", "receiver: chat\n  group_by",
                              "receiver: nobody\n  group_by")
    assert any("amtool check-config failed" in p and "nobody" in p for p in problems), problems


def test_a_rule_without_a_runbook_or_with_a_missing_one(project):
    problems = problems_after(project, RULES, '"${runbooks}/003-service-down.md"', '"${runbooks}/404.md"')
    assert any("runbooks/404.md does not exist" in p for p in problems), problems
    problems = problems_after(project, RULES, 'runbook_url: "${runbooks}/404.md"', 'dashboard: "x"')
    assert any("ServiceDown has no runbook" in p for p in problems), problems


def test_a_runbook_without_its_sections(project):
    book = project / "runbooks/003-service-down.md"
    book.write_text(book.read_text().replace("## Prevention", "## Later").replace("## Triage", "## First"))
    problems = check_catalog(project).problems
    assert any("runbooks/003-service-down.md: sections: no triage, prevention section" in p for p in problems)


@pytest.mark.parametrize(("old", "new", "field", "reason"), [
    ("alert: ServiceDown", "alert: ServiceGone", "expect[0].alert", "no alerting rule named ServiceGone"),
    ("receiver: pager", "receiver: sms", "expect[0].receiver", "Alertmanager has no receiver sms"),
    ("receiver: pager", "receiver: chat", "expect[0].receiver", "ServiceDown's labels route to pager"),
    ("within: 1m", "within: 20s", "expect[0].within", "below the pipeline's floor"),
    ("priority: p0", "priority: p2", "priority", "its most urgent expected alert is p0"),
    ("quiet: [HighErrorRate]", "quiet: [HighErrorRates]", "quiet", "no alerting rule named HighErrorRates"),
])
def test_a_scenario_that_cannot_work_is_named_with_its_field(project, old, new, field, reason):
    problems = problems_after(project, "scenarios/service-outage.yaml", old, new)
    assert any(p.startswith(f"scenarios/service-outage.yaml: {field}: ") and reason in p for p in problems), problems


def test_an_invalid_scenario_is_one_line(project):
    (project / "scenarios/broken.yaml").write_text("id: broken\nfault: [\n")
    problems = check_catalog(project).problems
    assert any(p.startswith("scenarios/broken.yaml: ") and "\n" not in p for p in problems), problems


def test_the_table_lists_every_rule_with_its_route_and_drills():
    text = render(check_catalog(ROOT))
    for name in ("ServiceDown", "HighErrorRate", "SLOLatencyP99Violation", "pager", "chat"):
        assert name in text


def test_a_draft_is_a_problem_and_drills_nothing(project):
    path = next(iter(sorted((project / "scenarios").glob("*.yaml"))))
    path.write_text("draft: true\n" + path.read_text())
    result = check_catalog(project)
    assert f"scenarios/{path.name}: draft: a draft: name the fault that fires its alert and delete draft: true; " \
           "until then it drills nothing" in "\n".join(result.problems), result.problems
    assert not result.ok
