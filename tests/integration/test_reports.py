"""Reports across runs, on whole drills of the real lab: the TTN trend and its regression check, Allure's own
history rendered by Allure 3, and the review as a browser shows it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_a_slowed_rule_is_a_regression_against_its_history(run_gameday, tmp_path):
    """Three drills make a history; with the rule's `for` doubled the fourth still meets its SLA, but its TTN is
    far above the recent median: said in the summary, and a FAIL when asked for. Allure keeps the four as one
    test's history, the trend plot shows the slower TTN, and the review opens whole in a browser."""
    allure_history = AllureHistory(tmp_path)
    for _ in range(3):
        run = run_gameday("-k", "test_drill and high-error-rate", "--time-scale", "60")
        assert run.proc.returncode == 0, run.out
        allure_history.add(run)
    rules = tmp_path / "slowed"
    rules.mkdir()
    for src in (ROOT / "config/prometheus/rules").glob("*.yml"):
        shutil.copy(src, rules)
    text = (rules / "inference.yml").read_text()
    assert text.count("        for: 2m\n") == 1
    (rules / "inference.yml").write_text(text.replace("        for: 2m\n", "        for: 4m\n"))
    run = run_gameday("-k", "test_drill and high-error-rate", "--time-scale", "60", "--rules", str(rules),
                      "--regression", "fail")
    assert run.proc.returncode == 1, run.out
    assert "regression: high-error-rate HighErrorRate: TTN" in run.out and "above its recent median" in run.out
    newest = max((json.loads(p.read_text()) for p in (run.reports / "drills").glob("high-error-rate-*.json")),
                 key=lambda j: j["started"])
    assert newest["verdict"] == "FAIL" and newest["reasons"][0].startswith("regression (--regression fail)")
    assert newest["alerts"]["HighErrorRate"]["sla_met"] is True, "within its SLA: only the trend failed it"
    assert len(newest["trends"]["HighErrorRate"]["history"]) == 3
    allure_history.add(run)
    assert len(allure_history.ids) == 4 and len(set(allure_history.ids)) == 1, \
        "the four drills are one test in Allure's history: no measured value in its history id"
    (result,) = run.allure_results()
    assert result["status"] == "failed" and any(a["name"] == "TTD / TTN / MTTR over recent drills"
                                                for a in result["attachments"])

    review_in_a_browser(run, newest, tmp_path)
    allure_history.check()


class AllureHistory:
    """Allure 3 (the npm package, through npx) renders each run's results with one history file, as a nightly
    job keeping that file between runs would."""

    def __init__(self, tmp_path: Path) -> None:
        from gameday.report.allure import write_allure_config

        self.folder = tmp_path / "allure-history"
        self.config = write_allure_config(self.folder / "allurerc.json", self.folder / "history.jsonl")
        self.ids: list[str] = []
        self.npx = shutil.which("npx")
        self.rendered = 0

    def add(self, run) -> None:
        (result,) = [r for r in run.allure_results() if "high-error-rate" in r["name"]]
        self.ids.append(result["historyId"])
        if self.npx is None:
            return
        proc = subprocess.run([self.npx, "--yes", "allure@3", "generate", str(run.allure), "--config",
                               str(self.config), "--output", str(self.folder / f"report-{self.rendered}")],
                              cwd=self.folder, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self.rendered += 1

    def check(self) -> None:
        if self.npx is None:
            pytest.skip("no npx (Node.js) on this machine: Allure's own history file was not rendered")
        entries = [json.loads(line) for line in (self.folder / "history.jsonl").read_text().splitlines()]
        assert len(entries) == 4, "one history entry per rendered run"
        drill = [next(r for r in e["testResults"].values() if "high-error-rate" in r["name"]) for e in entries]
        assert len({r["historyId"] for r in drill}) == 1 and [r["status"] for r in drill] == ["passed"] * 3 + [
            "failed"], "Allure sees one drill passing three times, then failing on the regression"
        categories = json.loads((self.folder / "report-3" / "widgets" / "categories.json").read_text())
        assert '"slower than its recent drills"' in json.dumps(categories), "the FAIL is in its own category"


def review_in_a_browser(run, newest: dict, tmp_path: Path) -> None:
    """The newest run's review in headless Chromium: every image drawn, every link opens, a screenshot taken."""
    from gameday.report.review import write_review
    from tests.browser import open_page
    from tests.unit.test_trends import colour_pixels

    began = time.monotonic()
    md, html = write_review(run.reports, tmp_path / "review", ROOT)
    rendered = time.monotonic() - began
    shot = run.reports / "review-screenshot.png"
    page = open_page(html.as_uri(), shot)
    print(f"review rendered in {rendered:.2f}s, loaded in Chromium in {page.load_seconds:.2f}s")
    assert page.broken_images == [] and len(page.images) == 2, (page.images, page.broken_images)
    assert {Path(i).name for i in page.images} == {Path(newest["plot"]).name, Path(newest["trend_plot"]).name}
    assert page.broken_links == [] and any(link.endswith("001-high-error-rate.md") for link in page.links), \
        page.broken_links
    for words in ("Times against goals", "Timeline", "SLO impact", "Action items", "regression"):
        assert words in page.text, words
    assert colour_pixels(shot, "#c00000") > 500, "the screenshot shows the plots' red SLA and TTN lines"
