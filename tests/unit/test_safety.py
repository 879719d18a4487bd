from __future__ import annotations

import pytest

from gameday.core.errors import TargetNotAllowed
from gameday.lab.__main__ import print_env
from gameday.load.locust import LocustRun
from gameday.target.allowlist import check_target


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.9.9.9/x", "http://localhost:1", "http://[::1]:80"])
def test_loopback_is_allowed(url):
    assert check_target(url) == url


@pytest.mark.parametrize("url, why", [
    ("http://10.0.0.1:80", "outside the allowlist"),
    ("http://192.168.1.10", "outside the allowlist"),
    ("http://8.8.8.8", "outside the allowlist"),
    ("not a url", "no host"),
])
def test_anything_else_is_refused(url, why):
    with pytest.raises(TargetNotAllowed, match=why):
        check_target(url)


def test_load_refuses_a_non_loopback_host_before_starting(tmp_path):
    with pytest.raises(TargetNotAllowed):
        LocustRun(tmp_path / "x.py", "http://10.1.2.3:80", 1, 1, tmp_path)
    assert not (tmp_path / "locust.log").exists()


def test_env_prints_exports_of_a_running_lab(tmp_path, capsys):
    path = tmp_path / "endpoints.json"
    assert print_env(path) == 2
    assert "no running lab" in capsys.readouterr().err
    path.write_text('{"gateway": "http://127.0.0.1:1", "supervisor": "http://127.0.0.1:2"}')
    assert print_env(path) == 0
    assert capsys.readouterr().out.splitlines() == ["export GATEWAY=http://127.0.0.1:1",
                                                    "export SUPERVISOR=http://127.0.0.1:2"]
