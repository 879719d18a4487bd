"""The pytest plugin as a user meets it: options, markers, one-line errors for bad scenarios."""

from __future__ import annotations

import shutil

import pytest


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "1e308", "1e-9"])
def test_a_time_scale_out_of_range_is_one_line_before_anything_starts(project, value):
    """An absurd scale once started a lab that scraped every millisecond (and failed a minute later), or blamed a
    valid slo.yaml; now it is refused up front."""
    result = project.runpytest("--time-scale", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--time-scale *: between 0.1 and 300 *"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


@pytest.mark.parametrize("value", ["-5", "0.3", "4.9", "nan", "inf", "1e9"])
def test_a_watchdog_bound_under_its_heartbeat_or_not_a_number_is_refused(project, value):
    """A bound under the 1 s heartbeat reverted a live fault 0.1-0.6 s after it went in (a false FAIL); nan and
    inf turned the watchdog off without a word."""
    result = project.runpytest("--watchdog", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--watchdog *: 0 (no watchdog) or between 5 and 3600 seconds*"])


def test_watchdog_bounds_that_make_sense_are_taken(project):
    for value in ("0", "5", "10", "3600"):
        assert project.runpytest("--watchdog", value, "--collect-only", "-q").ret == pytest.ExitCode.OK


def test_an_unusable_reports_folder_is_one_line(project, tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    for folder, said in ((plain, "not a folder"), (plain / "below", "cannot write there")):
        result = project.runpytest("--reports", str(folder))
        assert result.ret == pytest.ExitCode.USAGE_ERROR, folder
        result.stderr.fnmatch_lines([f"*--reports {folder}: {said}*"])
        assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_help_documents_the_options(project):
    result = project.runpytest("--help")
    result.stdout.fnmatch_lines(["*game-day drills:*", "*--time-scale=N*", "*--rules=DIR*"])


def test_bad_scenario_is_one_line_and_the_run_goes_on(project, root):
    good = (root / "scenarios/service-outage.yaml").read_text()
    (project.path / "scenarios/broken.yaml").write_text(good.replace("within: 1m", "within: quickly"))
    (project.path / "scenarios/unknown.yaml").write_text(good.replace("priority: p0", "priority: p0\nowner: me"))
    (project.path / "scenarios/garbage.yaml").write_text("id: [\n")
    result = project.runpytest("-m", "p0")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([
        "*INVALID SCENARIO: scenarios/broken.yaml: expect[[]0[]].within: not a duration: 'quickly'*",
        "*INVALID SCENARIO: scenarios/garbage.yaml: line 2: not valid YAML*",
        "*INVALID SCENARIO: scenarios/unknown.yaml: owner: unknown field*",
    ])
    assert "Traceback" not in result.stdout.str()
    assert "starting the embedded lab" not in result.stdout.str(), "no lab for scenarios that cannot run"


def test_priority_markers_select_scenarios(project, root):
    text = (root / "scenarios/service-outage.yaml").read_text()
    (project.path / "scenarios/a.yaml").write_text(text.replace("id: service-outage", "id: a"))
    (project.path / "scenarios/b.yaml").write_text(text.replace("id: service-outage", "id: b")
                                                   .replace("priority: p0", "priority: p2"))
    result = project.runpytest("--collect-only", "-q", "-m", "p2")
    result.stdout.fnmatch_lines(["*test_drill[[]b[]]*", "*1/2 tests collected (1 deselected)*"])


@pytest.mark.parametrize("option", ["--scenarios", "--rules", "--lab-config"])
def test_a_missing_folder_is_a_usage_error(project, option):
    result = project.runpytest(option, "/no/such/folder")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option} /no/such/folder: no such folder*"])


def test_each_xdist_worker_takes_ports_from_a_slice_of_its_own(monkeypatch):
    from gameday.target.ports import _worker_slice

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert _worker_slice(10_000, 32_000) == (10_000, 32_000)
    slices = []
    for n in range(3):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{n}")
        slices.append(_worker_slice(10_000, 32_000))
    assert all(a[1] <= b[0] for a, b in zip(slices, slices[1:], strict=False)), slices
    assert all(10_000 <= lo < hi <= 32_000 for lo, hi in slices)


def test_the_longest_drills_run_first(project, root):
    """The slow burn (5h SLA) before the outage (1m), whatever their names; hand-written drills after them."""
    for name in ("service-outage", "slo-slow-burn", "high-error-rate"):
        shutil.copy(root / f"scenarios/{name}.yaml", project.path / "scenarios")
    project.makepyfile(test_zz_own="def test_own(run_drill):\n    pass\n")
    result = project.runpytest("--collect-only", "-q")
    order = [line.split("[")[-1].rstrip("]") for line in result.stdout.lines if "::" in line]
    assert order == ["slo-slow-burn", "high-error-rate", "service-outage", "test_zz_own.py::test_own"], order


def test_a_full_reports_folder_is_refused(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from gameday.plugin import usage

    monkeypatch.setattr(usage.os, "statvfs", lambda _: SimpleNamespace(f_bavail=10, f_frsize=4096))
    assert "only 0.0 MiB free" in usage.reports_problem(tmp_path)

