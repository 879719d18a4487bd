"""A team's stack where a staging stack is: in a network namespace of its own, at an address that is not loopback,
with Prometheus and Alertmanager behind TLS (a CA the test makes) and basic auth. Drilled through a target file that
names the CA, the server name, and where each password is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.conftest import gameday_env
from tests.integration.teamproject import PASSWORD_ENV, drill, monitoring, team_project
from tests.integration.teamstack import USER, make_tls, team_stack


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


def test_target_new_reaches_a_stack_behind_tls_and_basic_auth_and_writes_how(tmp_path, secured):
    """``gameday target new`` with the CA and the password's variable: it reads the live rules and routes through
    them, writes them into the target file (the secret named, never its value), and ``gameday check --target``
    then reaches the stack the same way."""
    project = tmp_path / "project"
    project.mkdir()

    def gameday(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gameday.cli", *args], cwd=project, capture_output=True,
                              text=True, timeout=60, env=gameday_env() | (env or {}))

    new = ["target", "new", "shop", "--prometheus", secured.url("prom"), "--alertmanager", secured.url("am"),
           "--allow", secured.netns.network]
    plain = gameday(*new)
    assert plain.returncode == 1 and plain.stdout.count("\n") == 1, plain.stdout
    assert "TLS: certificate verify failed" in plain.stdout and plain.stdout.rstrip().endswith(
        "give the CA that signed its certificate (--ca-file), and --server-name where the URL is an address"), \
        plain.stdout
    new += ["--ca-file", str(secured.tls["ca"])]
    anonymous = gameday(*new)
    assert anonymous.returncode == 1 and anonymous.stdout.rstrip().endswith(
        "HTTP 401: give the credentials it asks for (--username with --password-file or --password-env, or "
        "--bearer-file or --bearer-env)"), anonymous.stdout
    half = gameday(*new, "--username", USER)
    assert half.returncode == 1 and half.stdout == ("gameday target new: --username needs --password-file or "
                                                    "--password-env\n"), half.stdout
    made = gameday(*new, "--username", USER, "--password-env", PASSWORD_ENV, env=password(secured))
    assert made.returncode == 0, made.stdout + made.stderr
    assert "a draft expecting ShopDown at oncall" in made.stdout, made.stdout
    target = (project / "targets" / "shop.yaml").read_text()
    assert target.count(f"auth: {{basic: {{username: {USER}, password: {{env: {PASSWORD_ENV}}}}}}}") == 2, target
    assert target.count(f"tls: {{ca_file: {secured.tls['ca']}}}") == 2, target
    assert secured.password.read_text().strip() not in target
    assert "slos: []" in (project / "config" / "slo.yaml").read_text()
    check = gameday("check", "--target", "shop", env=password(secured))
    assert "2 alerting rules live, 0 drilled" in check.stdout, check.stdout
    wrong = gameday("check", "--target", "shop", env={PASSWORD_ENV: "not-the-password"})
    assert wrong.returncode != 0 and "(HTTP 401)" in wrong.stdout, wrong.stdout
    assert "Traceback" not in plain.stdout + half.stdout + made.stdout + check.stdout + wrong.stdout + wrong.stderr
