"""The stack's image: every file the Dockerfile copies is in its build context and in its version tag."""

from __future__ import annotations

import fnmatch

from gameday.compose.stack import IMAGE_INPUTS
from tests.conftest import ROOT


def copied_sources() -> list[str]:
    sources = []
    for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    return sources


def in_context(path: str) -> bool:
    """What .dockerignore lets into the build context (its last matching line wins)."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        if fnmatch.fnmatch(path, pattern.lstrip("!")):
            allowed = negate
    return allowed


def test_every_copied_file_reaches_the_build_and_its_tag():
    sources = copied_sources()
    assert "gameday/lab/cgroups.py" in sources
    assert [s for s in sources if not in_context(s)] == [], ".dockerignore keeps them out of the build context"
    assert [s for s in sources if s not in IMAGE_INPUTS] == [], "a change to them would not rebuild the image"
