"""The shadow exercise's pieces without a lab: the pager, the helpers, the debrief, the option's refusals."""

from __future__ import annotations

import json

import requests

from gameday.record.journal import DrillRecord
from gameday.report.debrief import debrief_lines
from gameday.shadow.debrief import debrief, newest_automated
from gameday.shadow.exercise import runbook_sections
from gameday.shadow.pager import Pager, helper


def test_the_pager_takes_an_ack_only_once_a_page_is_there_and_only_once(root):
    pager = Pager(root).start()
    try:
        early = requests.post(f"{pager.url}/ack", headers={"Accept": "application/json"}, timeout=5).json()
        assert early == {"ok": False, "said": "nothing has paged yet: nothing to acknowledge"}
        assert pager.snapshot()["acknowledged"] is False
        pager.page({"alert": "ServiceDown", "severity": "critical", "summary": "<script>x</script>",
                    "receiver": "pager", "status": "firing", "at": "12:00:00"})
        page = requests.get(pager.url, timeout=5).text
        assert 'id="ack"' in page and "<script>x" not in page and "&lt;script&gt;" in page
        answer = requests.post(f"{pager.url}/ack", timeout=5, allow_redirects=False)
        assert answer.status_code == 303, "a button on the page comes back to the page"
        requests.post(f"{pager.url}/ack", timeout=5)
        snap = pager.snapshot()
        assert snap["acknowledged"] and [h["what"] for h in snap["log"]] == ["acknowledged the page"]
        assert 'id="ack"' not in requests.get(pager.url, timeout=5).text
        bad = requests.post(f"{pager.url}/action", data=b"[1, 2]", timeout=5)
        assert bad.status_code == 400
        requests.post(f"{pager.url}/action", json={"command": "curl \x1b[31mx", "exit": 0, "seconds": 0.2}, timeout=5)
        assert "\x1b" not in pager.snapshot()["log"][-1]["what"], "control characters are escaped"
    finally:
        pager.stop()


def test_the_helpers_say_one_line_without_an_exercise_or_with_a_pager_off_loopback(tmp_path, capsys):
    assert helper("ack", tmp_path, []) == 2
    assert "no shadow exercise is running" in capsys.readouterr().out
    (tmp_path / "shadow.json").write_text(json.dumps({"pager": "http://10.1.2.3:80"}))
    assert helper("do", tmp_path, ["--", "true"]) == 2
    assert "off loopback" in capsys.readouterr().out


def test_the_debrief_sets_the_trainee_beside_the_goals_and_the_automated_drill(tmp_path):
    from gameday.core.clock import Clock

    rec = DrillRecord("gateway-down-runbook", "t", "p0", "runbooks/003-service-down.md", 10.0, Clock())
    rec.goals = {"mttr": 60.0, "sla:ServiceDown": 6.0}
    rec.marks = {"t_inject": 1.0, "t_notified": 5.0, "t_acked": 20.0, "t_mitigated": 30.0, "t_resolved": 40.0}
    auto = {"journal": "gateway-down-runbook-1.json", "mitigate": 3.0, "mttr": 50.0}
    d = debrief(rec, auto)
    assert d["acknowledge"] == 150.0 and d["acknowledge_met"] is False, "2m30s real against P0's 2 minutes"
    assert d["mitigate"] == 250.0 and d["mttr_goal"] == 600.0
    text = "\n".join(debrief_lines(d))
    assert "MISSED" in text and "automated drill: 3.0s" in text

    (tmp_path / "gateway-down-runbook-20260101T000000.000.json").write_text(json.dumps(
        {"verdict": "PASS", "time_scale": 60, "marks": {"t_notified": {"t": 2.0}, "t_mitigated": {"t": 2.5}},
         "timings": {"mttr": 3.0}}))
    (tmp_path / "gateway-down-runbook-20260102T000000.000.json").write_text(json.dumps(
        {"verdict": "PASS", "shadow": {"acknowledge": 1}, "time_scale": 1, "marks": {}, "timings": {}}))
    newest = newest_automated(tmp_path, "gateway-down-runbook")
    assert newest == {"journal": "gateway-down-runbook-20260101T000000.000.json", "mitigate": 30.0, "mttr": 180.0}


def test_hints_point_at_the_runbooks_own_sections(root):
    assert [s.split(" ")[0] for s in runbook_sections(root / "runbooks/003-service-down.md")] == \
        ["Triage", "Investigation", "Mitigation"]


def test_shadow_mode_refuses_a_target_the_harness_does_not_own_in_one_line(pytester, root):
    pytester.makeini("[pytest]\ngameday_target = elsewhere\n")
    result = pytester.runpytest("--shadow", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--shadow: target 'elsewhere' is not one the harness starts and stops*"])
    assert "Traceback" not in result.stderr.str()
    bad = pytester.runpytest("--shadow", "--target", "lab", "--shadow-timeout", "soon")
    bad.stderr.fnmatch_lines(["*--shadow-timeout: not a duration*"])


def test_a_page_not_acknowledged_in_time_fails_the_exercise_however_it_ended():
    from types import SimpleNamespace

    import pytest

    from gameday.core.errors import DrillFailed
    from gameday.shadow.exercise import assert_acknowledged

    def drill(marks: dict[str, float]) -> SimpleNamespace:
        return SimpleNamespace(record=SimpleNamespace(marks=marks), ctx=SimpleNamespace(time_scale=10.0),
                               scenario=SimpleNamespace(priority="p0"))

    assert_acknowledged(drill({"t_notified": 5.0, "t_acked": 16.0}))  # 1m50s real: within P0's 2 minutes
    with pytest.raises(DrillFailed, match="acknowledged after 2m10s, beyond the P0 acknowledgement time of 2m00s"):
        assert_acknowledged(drill({"t_notified": 5.0, "t_acked": 18.0}))
    with pytest.raises(DrillFailed, match="never acknowledged"):
        assert_acknowledged(drill({"t_notified": 5.0}))

