"""The command line the benches run drills with: ``pytest gamedays/`` in a process of its own, as a user does."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gamedays_argv(reports: Path, allure: Path, *extra: str) -> list[str]:
    """``pytest gamedays/`` with the project's configuration from any folder, its reports and Allure results in
    the given folders, and ``extra`` after."""
    return [sys.executable, "-m", "pytest", str(ROOT / "gamedays"), "--rootdir", str(ROOT), "-c",
            str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider", "--reports", str(reports), "--alluredir",
            str(allure), *extra]
