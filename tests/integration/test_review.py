"""The run's review, from journals alone: what a reviewer sees, and no broken link or image.

The tests here start a process; the rest of them are in ``tests/unit/test_review.py``."""

from __future__ import annotations

from pathlib import Path

from gameday.report.review import write_review
from tests.unit.test_review import drill


def test_the_browser_sees_a_review_whole_and_sees_what_is_broken(tmp_path, root):
    """The review in headless Chromium: every image drawn and every link opens; remove a plot and a journal and
    the same check names both."""
    from tests.browser import open_page

    reports = tmp_path / "reports"
    drill(reports, "high-error-rate", "run", "2026-11-02T10:00:00")
    md, html = write_review(reports, tmp_path / "review", root)
    whole = open_page(html.as_uri(), tmp_path / "whole.png")
    assert len(whole.images) == 1 and whole.broken_images == [] and whole.broken_links == []
    assert len(whole.links) == 2 and "Times against goals" in whole.text
    (tmp_path / "review" / "plots" / "high-error-rate-2026-11-02T10:00:00.png").unlink()
    next((reports / "drills").glob("*.json")).unlink()
    broken = open_page(html.as_uri(), tmp_path / "broken.png")
    assert [Path(i).name for i in broken.broken_images] == ["high-error-rate-2026-11-02T10:00:00.png"]
    assert len(broken.broken_links) == 1 and ".json" in broken.broken_links[0]

