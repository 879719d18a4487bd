"""The assertions drills call: pages, SLAs, quiet alerts and MTTR, with waits built on tenacity.

Each wait returns what it saw; each ``assert_*`` raises ``DrillFailed`` with a reason a
reviewer can act on. Drills (and hand-written tests in ``gamedays/``) use them directly.
"""

from __future__ import annotations

from assertions.alerts import PageResult, Watch, assert_page, assert_quiet, wait_for_page
from assertions.mttr import assert_mttr, wait_for_resolution
from assertions.sla import assert_feasible, assert_within_sla

__all__ = ["PageResult", "Watch", "assert_feasible", "assert_mttr", "assert_page", "assert_quiet",
           "assert_within_sla", "wait_for_page", "wait_for_resolution"]
