from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from gameday.pipeline.timescale import (
    scale_rules,
)


def test_project_rules_scale_and_pass_promtool(root, tmp_path):
    doc = yaml.safe_load((root / "config/prometheus/rules/inference.yml").read_text())
    scaled = scale_rules(doc, 60)
    rules = {r["alert"]: r for g in scaled["groups"] for r in g["rules"]}
    assert rules["HighErrorRate"]["for"] == "2s"
    assert "[5s]" in rules["HighErrorRate"]["expr"] and "[5m]" not in rules["HighErrorRate"]["expr"]
    assert rules["ServiceDown"]["for"] == "500ms"
    assert doc["groups"][0]["rules"][1]["for"] == "2m", "the source document must not change"
    out = tmp_path / "rules.yml"
    out.write_text(yaml.safe_dump(scaled))
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (./run setup installs it)")
    res = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr

