"""The whole way a verdict travels, in a pytest run of its own on the fake target (``tests.fakes``): the plugin's
``run_drill`` turns the journal's verdict into the test's outcome, and the console, JUnit and Allure say the
same as the journal, for each verdict. (A pytest run of its own: Allure's pytest plugin keeps one reporter per
process, so a run inside this one would mix their results.)"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

CONFTEST = '''
import json, os
import pytest
from tests.fakes import FakeLoads, FakeTarget, Plan
from tests.unit.test_drill_exits import RULES

def pytest_gameday_make_target(config, name, reports, time_scale, worker):
    if name == "fake":
        return FakeTarget(Plan(**json.loads(os.environ["GAMEDAY_FAKE_PLAN"])), RULES, ["ServiceDown"])

@pytest.fixture(scope="session")
def gameday_load(tmp_path_factory):
    yield FakeLoads(tmp_path_factory.mktemp("load"))
'''

SCENARIO = """
id: fake-outage
title: the fake service goes away
priority: p0
runbook: runbooks/003-service-down.md
load: {locustfile: locustfiles/baseline.py, users: 1, spawn_rate: 1}
steady_state: 12s
fault: {kind: %(kind)s, target: svc, duration: 6s, skip_where_unsupported: true}
expect:
  - {alert: ServiceDown, receiver: pager, within: 1m}
recovery: {mode: revert, mttr_goal: 2m}
abort_when:
  - {expr: "fake_error_ratio > 0.5", description: blast radius}
"""


@pytest.mark.parametrize(("plan", "kind", "verdict", "allure", "junit"), [
    ({}, "kill-service", "PASS", "passed", None),
    ({"fires": False}, "kill-service", "FAIL", "failed", "failure"),
    ({"inject_fails": True}, "kill-service", "ERROR", "broken", "failure"),
    ({"stop_condition_holds": True, "fires": False}, "kill-service", "ABORTED", "broken", "failure"),
    ({}, "pause-service", "SKIPPED", "skipped", "skipped"),
], ids=["pass", "fail", "error", "aborted", "skipped"])
def test_console_journal_junit_and_allure_agree_through_pytest(pytester, root, monkeypatch, plan, kind, verdict,
                                                               allure, junit):
    for folder in ("runbooks", "locustfiles"):
        shutil.copytree(root / folder, pytester.path / folder)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "fake.yaml").write_text(SCENARIO % {"kind": kind})
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_drills="def test_drill(scenario, run_drill):\n    run_drill(scenario)\n")
    monkeypatch.setenv("GAMEDAY_FAKE_PLAN", json.dumps(plan))
    monkeypatch.setenv("PYTHONPATH", str(root))
    allure_dir, junit_file = pytester.path / "allure", pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("--target", "fake", "--time-scale", "300", "--no-live", "-p", "no:randomly",
                                f"--alluredir={allure_dir}", f"--junitxml={junit_file}")
    out = result.stdout.str()
    assert f"verdict {verdict}" in out
    journals = [p for p in (pytester.path / "reports" / "drills").glob("fake-outage-*.json")
                if not p.name.endswith("-trend.json")]
    assert [json.loads(p.read_text())["verdict"] for p in journals] == [verdict]
    statuses = [json.loads(p.read_text())["status"] for p in allure_dir.glob("*-result.json")]
    assert statuses == [allure]
    case = ET.parse(junit_file).getroot().find(".//testcase")
    assert case is not None
    children = {child.tag: child for child in case}
    if junit is None:
        assert not {"failure", "error", "skipped"} & set(children)
    else:
        assert junit in children
        if junit != "skipped":
            assert children[junit].get("message", "").startswith(f"{verdict}: "), children[junit].attrib
