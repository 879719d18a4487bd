"""Credentials for a Prometheus that asks for them come from the environment and never reach a report."""

from __future__ import annotations

import secrets
import shutil

import bcrypt

from tests.conftest import ROOT
from tests.integration.conftest import SHARED_SCALE


def protected_config(tmp_path, password: str):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (config / "prometheus" / "web.yml").write_text(f"basic_auth_users:\n  gameday: {hashed}\n")
    return config


def test_without_credentials_the_lab_says_so_in_one_line(run_gameday, tmp_path, monkeypatch):
    monkeypatch.delenv("GAMEDAY_PROMETHEUS_BASIC_AUTH", raising=False)
    config = protected_config(tmp_path, secrets.token_hex(8))
    run = run_gameday("-k", "service-outage and test_drill", "--time-scale", "60", "--lab-config", str(config))
    assert run.proc.returncode == 1, run.out
    assert "refused the harness (HTTP 401): give it credentials in GAMEDAY_PROMETHEUS_BASIC_AUTH" in run.out


def test_a_secret_never_reaches_a_journal_log_or_allure_attachment(run_gameday, tmp_path, monkeypatch):
    password = "s3cret-" + secrets.token_hex(12)
    config = protected_config(tmp_path, password)
    monkeypatch.setenv("GAMEDAY_PROMETHEUS_BASIC_AUTH", f"gameday:{password}")
    run = run_gameday("-k", "service-outage and test_drill", "--time-scale", SHARED_SCALE, "--lab-config", str(config))
    assert run.proc.returncode == 0, run.out
    assert password not in run.out
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "tsdb" not in p.parts]
    assert any(p.suffix == ".json" and "drills" in p.parts for p in files), "the drill wrote its journal"
    leaked = [str(p) for p in files if password.encode() in p.read_bytes()]
    assert leaked == [], f"the secret is in {leaked}"
