"""The shadow exercise's pieces without a lab: the pager, the helpers, the debrief, the option's refusals.

The tests here start a process; the rest of them are in ``tests/unit/test_shadow_helpers.py``."""

from __future__ import annotations

import json
import subprocess
import sys

from gameday.shadow.pager import Pager


def test_gameday_do_runs_with_the_targets_addresses_and_lands_on_the_timeline(root, tmp_path):
    pager = Pager(root).start()
    try:
        pager.state.env = {"GATEWAY": "http://127.0.0.1:1"}
        (tmp_path / "shadow.json").write_text(json.dumps({"pager": pager.url}))
        out = subprocess.run([sys.executable, "-m", "gameday.cli.main", "do", "--reports", str(tmp_path), "--",
                              'echo "gateway at $GATEWAY"; exit 3'], capture_output=True, text=True, timeout=30)
        assert out.returncode == 3 and "gateway at http://127.0.0.1:1" in out.stdout
        (entry,) = pager.snapshot()["log"]
        assert entry["who"] == "trainee" and "exit 3" in entry["what"] and "echo" in entry["what"]
    finally:
        pager.stop()

