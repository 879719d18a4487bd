"""What the plugin keeps for a pytest session, in pytest's stash, and the names of the priorities."""

from __future__ import annotations

from typing import Any

import pytest

from gameday.record.journal import DrillRecord

RECORDS = pytest.StashKey[list[DrillRecord]]()


SHADOW_PAGER = pytest.StashKey[Any]()


SHADOW_TIMEOUT = pytest.StashKey[float]()


RUN_ID = pytest.StashKey[str]()
"""This pytest session's id, in every journal it writes: what ``gameday report`` groups a review by."""


PRIORITY_TEXT = {"p0": "P0: critical, pages at once", "p1": "P1: high, pages in business hours",
                 "p2": "P2: medium, notifies without a page", "p3": "P3: low, informational"}
