"""The README stays short enough to read in five minutes, every relative link in it and in docs/ resolves,
and the options reference is what the options' own definitions say."""

from __future__ import annotations

import re

from gameday.plugin.reference import reference
from tests.conftest import ROOT

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def pages():
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024


def test_every_relative_link_resolves():
    broken = []
    for page in pages():
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
    assert len(pages()) >= 10


def test_the_options_reference_matches_the_options():
    written = (ROOT / "docs" / "reference" / "options.md").read_text()
    assert written == reference(), "run: python -m gameday.plugin.reference > docs/reference/options.md"
    for name in ("--time-scale", "--target", "--watchdog", "--compose-keep", "--shadow"):
        assert f"`{name}" in written


def test_the_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("[a](nowhere.md) [b](https://example.org) [c](#top)")
    targets = [t for t in LINK.findall(page.read_text()) if not re.match(r"^[a-z]+:", t) and not t.startswith("#")]
    assert targets == ["nowhere.md"] and not (page.parent / targets[0]).exists()
