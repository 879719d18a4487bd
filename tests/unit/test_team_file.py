"""A team's target file: what loads, what is one line naming its field, where the harness may reach, and how the
target it makes answers the protocol, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.core.errors import ConfigError, TargetNotAllowed
from gameday.target.allowlist import LOOPBACK_ONLY, Reach
from gameday.team.http import read_secret, session_for
from gameday.team.model import Secret, TargetFile
from gameday.team.plugin import load_target_file, target_file
from gameday.team.target import TeamTarget

GOOD = """monitoring:
  prometheus: {url: "http://127.0.0.1:9090"}
  alertmanager:
    url: "https://10.20.0.3:9093"
    auth: {bearer: {env: SHOP_AM_TOKEN}}
    tls: {ca_file: /etc/ssl/certs/ca-certificates.crt, server_name: am.shop.internal}
receiver:
  listen: "127.0.0.1:0"
  secret: {env: SHOP_WEBHOOK_SECRET}
services:
  - name: web
    url: "http://127.0.0.1:8080"
    probe: {http: {path: /healthz, timeout: 1s}}
    platform: {process: {pidfile: /run/nginx.pid, start: [/usr/sbin/nginx]}}
  - name: db
    probe: {tcp: "127.0.0.1:5432"}
safety:
  allow: [127.0.0.0/8, 10.20.0.0/24]
  faultable: [web]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets" / "shop.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("SHOP_AM_TOKEN", "t0ken")
    monkeypatch.setenv("SHOP_WEBHOOK_SECRET", "s3cret")


def test_a_good_file_loads_and_makes_a_target_that_reaches_only_what_it_allows(tmp_path, env):
    spec = load_target_file(write(tmp_path, GOOD))
    assert isinstance(spec, TargetFile) and spec.sli_service.name == "web" and spec.offered()[-1] == "delivered"
    target = TeamTarget(spec, "targets/shop.yaml")
    assert target.name == "shop" and not target.owns_monitoring and not target.created_by_run
    assert target.services() == ["web", "db"] and target.url("db") == "http://127.0.0.1:5432"
    assert target.pages["level"] == "delivered"
    assert target.alertmanager._http.headers["Authorization"] == "Bearer t0ken"
    for url in target.allowlist():
        target.reach.check(url)
    with pytest.raises(TargetNotAllowed, match=r"outside the allowlist \(127.0.0.0/8, 10.20.0.0/24\): add its "
                                               r"network to safety.allow in targets/shop.yaml to allow it"):
        target.reach.check("http://192.0.2.1/")


def test_only_faultable_services_with_a_platform_take_faults_and_the_others_say_why(tmp_path, env):
    target = TeamTarget(load_target_file(write(tmp_path, GOOD)), "targets/shop.yaml")
    assert target.faults.why_not("kill-service", "shop", "web") is None
    assert "only on web" in target.faults.why_not("kill-service", "shop", "db")
    assert "not in safety.faultable" in target.faults.why_not("pause-service", "shop", "db")
    assert "the host's CPU with everything" in target.faults.why_not("cpu-stress", "shop", "web")
    no_start = GOOD.replace(", start: [/usr/sbin/nginx]", "")
    target = TeamTarget(load_target_file(write(tmp_path, no_start)), "targets/shop.yaml")
    assert "can be started again" in target.faults.why_not("stop-service", "shop", "web")
    assert target.faults.why_not("kill-service", "shop", "web") is None


def test_a_container_takes_the_container_kinds_and_a_process_its_own_each_aimed_only_where_it_can(tmp_path, env):
    mixed = GOOD.replace("""  - name: db
    probe: {tcp: "127.0.0.1:5432"}""", """  - name: db
    probe: {tcp: "127.0.0.1:5432"}
    platform: {compose: {project: shop, service: postgres}}
  - name: cache
    probe: {tcp: "127.0.0.1:6379"}
    platform: {docker: {label: app=cache}}""").replace("faultable: [web]", "faultable: [web, db, cache]")
    target = TeamTarget(load_target_file(write(tmp_path, mixed)), "targets/shop.yaml")
    for kind in ("kill-service", "stop-service", "pause-service"):
        assert all(target.faults.why_not(kind, "shop", s) is None for s in ("web", "db", "cache")), kind
    assert target.faults.why_not("network-disconnect", "shop", "db") is None
    assert "only on db, cache" in target.faults.why_not("network-disconnect", "shop", "web")
    assert "need not have stress-ng" in target.faults.why_not("cpu-stress", "shop", "db")
    assert "need not have nft" in target.faults.why_not("packet-loss", "shop", "cache")
    assert target.containers.describe("db") == "service postgres of Compose project shop"
    assert target.containers.describe("cache") == "the container labelled app=cache"
    only_process = TeamTarget(load_target_file(write(tmp_path, GOOD)), "targets/shop.yaml")
    assert "no network of its own" in only_process.faults.why_not("network-disconnect", "shop", "web")


@pytest.mark.parametrize("change, field, reason", [
    (("faultable: [web]", "faultable: [cache]"), "(top level)", "safety.faultable: 'cache' is none of the services"),
    (("allow: [127.0.0.0/8, 10.20.0.0/24]", "allow: [10.20.0.0/33]"), "safety.allow", "'10.20.0.0/33' is not a "
     "network"),
    (("probe: {tcp: \"127.0.0.1:5432\"}", "probe: {tcp: \"127.0.0.1:5432\", promql: up}"), "services.1.probe",
     "give exactly one of http, tcp or promql"),
    (("{pidfile: /run/nginx.pid, start", "{pidfile: /run/nginx.pid, systemd: nginx.service, start"),
     "services.0.platform.process", "give exactly one of pidfile, systemd or cmdline"),
    (("secret: {env: SHOP_WEBHOOK_SECRET}", "secret: hunter2"), "receiver.secret", "a valid dictionary"),
    (("auth: {bearer: {env: SHOP_AM_TOKEN}}", "headers: {Authorization: Bearer x}"),
     "monitoring.alertmanager.headers", "Authorization comes from auth"),
    (("url: \"http://127.0.0.1:9090\"", "url: \"ftp://127.0.0.1:9090\""), "monitoring.prometheus.url",
     "should match pattern"),
    (("  - name: db", "  - name: web"), "(top level)", "two services share a name"),
    (("listen: \"127.0.0.1:0\"", "listen: \"127.0.0.1:99999\""), "receiver.listen", "a port is a number from 0 "
     "to 65535"),
    (("probe: {http: {path: /healthz, timeout: 1s}}", "probe: {http: {path: /healthz, timeout: 1e308}}"),
     "services.0.probe.http.timeout", "at most 5m"),
    (("safety:", "colour: blue\nsafety:"), "colour", "Extra inputs are not permitted"),
    (("probe: {tcp: \"127.0.0.1:5432\"}", "probe: {tcp: \"127.0.0.1:5432\"}\n    platform: {docker: {container: "
      + "x" * 300 + "}}"), "services.1.platform.docker.container", "at most 255 characters"),
])
def test_whatever_is_wrong_is_one_line_naming_the_file_and_the_field(tmp_path, change, field, reason):
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError) as err:
        load_target_file(write(tmp_path, GOOD.replace(old, new)))
    assert err.value.field == field and reason in err.value.reason, str(err.value)
    assert str(err.value).startswith(str(tmp_path / "targets" / "shop.yaml"))
    assert "\n" not in str(err.value)


def test_a_secret_comes_from_its_variable_or_file_and_a_missing_one_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"receiver.secret: \$NO_SUCH_SECRET is not set"):
        read_secret(Secret(env="NO_SUCH_SECRET"), "shop.yaml", "receiver.secret")
    (tmp_path / "s").write_text("from-a-file\nignored\n")
    assert read_secret(Secret(file=str(tmp_path / "s")), "shop.yaml", "x") == "from-a-file"
    with pytest.raises(ConfigError, match=r"x: .*/missing: No such file"):
        read_secret(Secret(file=str(tmp_path / "missing")), "shop.yaml", "x")


def test_tls_a_client_certificate_and_basic_auth_reach_the_session(tmp_path, monkeypatch):
    from gameday.team.model import Endpoint

    for name in ("ca.pem", "cert.pem", "key.pem", "pw"):
        (tmp_path / name).write_text("x\n")
    ep = Endpoint(url="https://10.0.0.1:9090", auth={"basic": {"username": "gd", "password": {"file": str(
        tmp_path / "pw")}}}, tls={"ca_file": str(tmp_path / "ca.pem"), "cert_file": str(tmp_path / "cert.pem"),
                                   "key_file": str(tmp_path / "key.pem"), "server_name": "prom.internal"})
    s = session_for(ep, "shop.yaml", "monitoring.prometheus")
    assert s.auth == ("gd", "x") and s.verify == str(tmp_path / "ca.pem")
    assert s.cert == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")) and not s.trust_env
    assert s.get_adapter("https://10.0.0.1:9090").server_name == "prom.internal"
    missing = ep.model_copy(update={"tls": ep.tls.model_copy(update={"ca_file": str(tmp_path / "nope.pem")})})
    with pytest.raises(ConfigError, match=r"monitoring.prometheus.tls.ca_file: .*nope.pem: not a readable file"):
        session_for(missing, "shop.yaml", "monitoring.prometheus")


def test_target_names_a_file_only_when_there_is_one(tmp_path):
    assert target_file(tmp_path, "lab") is None
    write(tmp_path, GOOD)
    assert target_file(tmp_path, "shop") == tmp_path / "targets" / "shop.yaml"
    assert target_file(tmp_path, "elsewhere/x.yaml") == Path("elsewhere/x.yaml")


def test_loopback_is_the_default_reach_and_its_refusal_reads_as_before():
    with pytest.raises(TargetNotAllowed, match=r"outside the allowlist \(127.0.0.0/8, ::1\)$"):
        LOOPBACK_ONLY.check("http://192.0.2.1/")
    assert Reach.of(["10.0.0.0/8"], "x").check("http://10.1.2.3:80/") == "http://10.1.2.3:80/"


def test_the_page_level_is_the_highest_offered_and_one_not_offered_is_one_line(tmp_path, env):
    no_receiver = GOOD.replace('receiver:\n  listen: "127.0.0.1:0"\n  secret: {env: SHOP_WEBHOOK_SECRET}\n', "")
    assert no_receiver != GOOD
    target = TeamTarget(load_target_file(write(tmp_path, no_receiver)), "targets/shop.yaml")
    assert target.level == "attempted" and "nothing proves the notification arrived" in target.pages["how"]
    assert target.pages["more"].startswith("a receiver in targets/shop.yaml (receiver.listen and receiver.secret)")
    routed = TeamTarget(load_target_file(write(tmp_path, no_receiver + "pages: routed\n")), "targets/shop.yaml")
    assert routed.level == "routed" and "nothing proves a notification was sent" in routed.pages["how"]
    with pytest.raises(ConfigError, match=r"pages: delivered needs a receiver"):
        load_target_file(write(tmp_path, no_receiver + "pages: delivered\n"))
    lowered = TeamTarget(load_target_file(write(tmp_path, GOOD + "pages: routed\n")), "targets/shop.yaml")
    assert lowered.level == "routed", "a team may ask for less than it offers, and it then reads as less"
    assert lowered.pages["more"] == "pages: routed in targets/shop.yaml holds it there (it could prove delivered)"
    top = TeamTarget(load_target_file(write(tmp_path, GOOD)), "targets/shop.yaml")
    assert top.level == "delivered" and "more" not in top.pages


@pytest.mark.parametrize("data", [b"\xff\xfe\x00\x01garbage", b"monitoring: [", b"", b"- a\n- b\n",
                                  b"x: " + b"[" * 5000])
def test_a_target_file_of_bad_bytes_is_one_line(tmp_path, data):
    path = tmp_path / "targets" / "shop.yaml"
    path.parent.mkdir()
    path.write_bytes(data)
    with pytest.raises(ConfigError) as err:
        load_target_file(path, "targets/shop.yaml")
    assert str(err.value).startswith("targets/shop.yaml: ") and "\n" not in str(err.value)


def test_a_draft_scenario_is_named_from_its_alert_and_its_sla_stays_above_the_floor():
    from gameday.observe.clients import Rule
    from gameday.team.draft import sla_for, slug

    assert slug("ShopDown") == "shop-down" and slug("HTTP5xxRatioHigh") == "http5xx-ratio-high"
    assert slug("node:cpu_high") == "node-cpu-high" and slug("___") == "alert"
    slow = Rule("X", "up == 0", for_s=600.0, labels={}, annotations={}, group_interval_s=60.0)
    assert sla_for(slow, group_wait=30.0, scrape=60.0) == "15m", "2x60 + 60 + 600 + 30 + a minute: 14.5m"
    fast = Rule("X", "up == 0", for_s=3.0, labels={}, annotations={}, group_interval_s=1.0)
    assert sla_for(fast, group_wait=1.0, scrape=1.0) == "2m"
