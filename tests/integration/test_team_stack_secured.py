"""A team's stack where a staging stack is: in a network namespace of its own, at an address that is not loopback,
with Prometheus and Alertmanager behind TLS (a CA the test makes) and basic auth. Drilled through a target file that
names the CA, the server name, and where each password is."""

from __future__ import annotations

import pytest

from tests.integration.teamproject import PASSWORD_ENV, drill, monitoring, team_project
from tests.integration.teamstack import make_tls, team_stack


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    s = team_stack(tmp_path_factory.mktemp("secured") / "stack", secured=True)
    try:
        yield s
    finally:
        s.stop()


def password(stack) -> dict[str, str]:
    return {PASSWORD_ENV: stack.password.read_text().strip()}


def test_behind_tls_and_basic_auth_at_an_address_not_loopback_a_drill_passes_delivered(tmp_path, secured):
    assert not secured.host.startswith("127.") and secured.url("prom").startswith("https://")
    run = drill(team_project(tmp_path, secured), env=password(secured))
    assert run.proc.returncode == 0, run.out
    (journal,) = run.journals().values()
    assert journal["verdict"] == "PASS", journal["reasons"]
    assert journal["pages"]["level"] == "delivered" and journal["alerts"]["ShopDown"]["receiver"] == "oncall"
    assert journal["stack"]["prometheus_url"] == secured.url("prom"), journal["stack"]
    assert f"gameday: shop ready in 0.0s: Prometheus {secured.url('prom')}, Alertmanager {secured.url('am')}" \
        in run.out or f": Prometheus {secured.url('prom')}, Alertmanager {secured.url('am')}" in run.out, run.out
    assert journal["cautions"] == [], "a checked certificate needs no caution"
    assert any(p["path"] == "/oncall" and p["body"]["status"] == "firing" for p in secured.pages())
    assert secured.nginx_pid() is not None, "the revert started nginx again, in its namespace"


def test_a_wrong_password_is_one_line_naming_the_server(tmp_path, secured):
    run = drill(team_project(tmp_path, secured), env={PASSWORD_ENV: "not-the-password"})
    assert run.proc.returncode != 0, run.out
    line = next((ln for ln in run.out.splitlines() if "401" in ln or "credentials" in ln), None)
    assert line == (f"ERROR: Prometheus at {secured.url('prom')} refused the harness (HTTP 401): check "
                    "monitoring.prometheus.auth in targets/shop.yaml and the secret it names"), run.out
    assert "Traceback" not in run.out and "verdict PASS" not in run.out


def test_a_ca_that_did_not_sign_the_servers_certificate_is_one_line(tmp_path, secured):
    other = make_tls(tmp_path / "other-ca", secured.host)["ca"]
    run = drill(team_project(tmp_path, secured, monitoring=monitoring(secured, ca=other)), env=password(secured))
    assert run.proc.returncode != 0, run.out
    assert (f"ERROR: Prometheus at {secured.url('prom')} was not trusted: TLS: certificate verify failed: unable to "
            "get local issuer certificate: check monitoring.prometheus.tls (ca_file, server_name) in "
            "targets/shop.yaml") in run.out.splitlines(), run.out
    assert "Traceback" not in run.out and "verdict PASS" not in run.out


def test_the_stack_outside_the_default_allowlist_is_refused_before_any_fault(tmp_path, secured):
    run = drill(team_project(tmp_path, secured, allow="[127.0.0.0/8, '::1/128']"), env=password(secured))
    assert run.proc.returncode != 0, run.out
    assert (f"ERROR: {secured.url('prom')}: {secured.host} resolves to {secured.host}, outside the allowlist "
            "(127.0.0.0/8, ::1): add its "
            "network to safety.allow in targets/shop.yaml to allow it") in run.out, run.out
    assert "injecting" not in run.out and "Traceback" not in run.out
