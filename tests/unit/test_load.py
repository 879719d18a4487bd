"""Locust as the harness runs it: a locustfile that cannot load is one line with Locust's own reason."""

from __future__ import annotations

import pytest

from gameday.errors import HarnessError
from gameday.load import LocustRun


def test_a_locustfile_that_fails_to_load_names_the_reason(tmp_path):
    bad = tmp_path / "broken_users.py"
    bad.write_text("import no_such_module_for_gameday\n")
    run = LocustRun(bad, "http://127.0.0.1:9", 1, 1, tmp_path / "load")
    run.start()
    try:
        with pytest.raises(HarnessError, match="Locust exited early.*No module named 'no_such_module_for_gameday'"):
            run.wait_flowing(30)
    finally:
        run.stop()
