"""A page counts only when the stack backs it: its twin in Alertmanager, after Prometheus showed it firing; a
resolved page only when both no longer hold the alert. The stack here is scripted; the drills against the real
lab (tests/integration/test_forged_pages.py) show the same against real Prometheus and Alertmanager.

The tests here start a process; the rest of them are in ``tests/unit/test_provenance.py``."""

from __future__ import annotations

import yaml


def test_a_rendered_alertmanager_config_is_private(tmp_path):
    from gameday.target.monitoring import render_monitoring
    from tests.conftest import ROOT

    paths = render_monitoring(ROOT / "config", ROOT / "config" / "prometheus" / "rules", tmp_path / "out", 60.0,
                              {"gateway": "127.0.0.1:1", "backend": "127.0.0.1:2", "alertmanager": "127.0.0.1:3",
                               "containers": "127.0.0.1:4", "link": "127.0.0.1:5"}, "http://127.0.0.1:9",
                              "file:///runbooks", webhook_secret="s3cret")
    assert paths["alertmanager"].stat().st_mode & 0o077 == 0
    rendered = yaml.safe_load(paths["alertmanager"].read_text())
    hooks = [h for r in rendered["receivers"] for h in r.get("webhook_configs", [])]
    assert hooks and all(h["http_config"]["authorization"]["credentials"] == "s3cret" for h in hooks)

