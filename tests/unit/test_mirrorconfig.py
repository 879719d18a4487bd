"""The team's alerting as the shadow pair runs it (``gameday.team.mirrorconfig``): read from what the team's servers
answer, written in the lab's layout, with nothing of the team's receivers left and nothing scraped outside
``safety.allow``."""

from __future__ import annotations

import pytest
import yaml

from gameday.core.errors import ConfigError
from gameday.target.allowlist import Reach
from gameday.target.monitoring import load_yaml_template
from gameday.team.mirrorconfig import alertmanager_config, read_alerting, scrape_jobs

GROUPS = [{"name": "shop", "file": "/etc/prometheus/rules/shop.yml", "interval": 15, "rules": [
    {"type": "alerting", "name": "ShopDown", "query": 'up{job="shop"} == 0', "duration": 60,
     "labels": {"severity": "page"}, "annotations": {"summary": "{{ $labels.instance }} is down ($value)"}},
    {"type": "recording", "name": "job:up:sum", "query": "sum by (job) (up)"}]}]
TEAM_AM = {"global": {"resolve_timeout": "5m", "slack_api_url": "<secret>"},
           "route": {"receiver": "tickets", "routes": [{"matchers": ['severity="page"'], "receiver": "oncall"}]},
           "inhibit_rules": [{"source_matchers": ['severity="page"'], "target_matchers": ['severity="ticket"'],
                              "equal": ["job"]}],
           "templates": ["/etc/alertmanager/*.tmpl"],
           "receivers": [{"name": "oncall", "pagerduty_configs": [{"routing_key": "<secret>"}]},
                         {"name": "tickets", "webhook_configs": [{"url": "https://tickets.example/hook"}]}]}


def target(pool: str, url: str, **labels: str) -> dict:
    return {"scrapePool": pool, "scrapeUrl": url, "labels": {"job": pool, **labels}, "health": "up"}


class FakeApi:
    def __init__(self, base_url: str, **answers: object) -> None:
        self.base_url, self.answers = base_url, answers

    def __getattr__(self, name: str):
        return lambda: self.answers[name]


def test_only_targets_inside_the_allowlist_and_without_credentials_are_scraped():
    targets = [target("shop", "http://127.0.0.1:9113/metrics", instance="127.0.0.1:9113", __meta_x="y"),
               target("shop", "http://10.9.9.9:9113/metrics", instance="10.9.9.9:9113"),
               target("private", "http://127.0.0.1:9200/secret/metrics"),
               target("tls", "https://127.0.0.1:9300/metrics")]
    config = {"scrape_configs": [
        {"job_name": "shop", "scrape_interval": "5s", "metric_relabel_configs": [{"action": "drop"}],
         "kubernetes_sd_configs": [{"role": "pod"}]},
        {"job_name": "private", "basic_auth": {"username": "u", "password": "<secret>"}},
        {"job_name": "tls", "tls_config": {"ca_file": "/ca.crt", "cert_file": "/c.crt", "key_file": "/k.key"}}]}
    jobs, left = scrape_jobs(targets, config, Reach.of(["127.0.0.0/8"], "safety.allow in targets/shop.yaml"))
    by_name = {j["job_name"]: j for j in jobs}
    assert set(by_name) == {"shop", "tls"}
    shop = by_name["shop"]
    assert shop["static_configs"] == [{"targets": ["127.0.0.1:9113"],
                                       "labels": {"job": "shop", "instance": "127.0.0.1:9113"}}]
    assert shop["scrape_interval"] == "5s" and shop["metric_relabel_configs"] == [{"action": "drop"}]
    assert "kubernetes_sd_configs" not in shop  # the targets it found now, as static ones
    assert by_name["tls"]["tls_config"] == {"ca_file": "/ca.crt"} and by_name["tls"]["scheme"] == "https"
    assert len(left) == 2
    assert any("10.9.9.9" in line and "outside the allowlist" in line for line in left), left
    assert any("private" in line and "credentials" in line for line in left), left


def test_every_receiver_is_the_harness_webhook_alone_and_the_routing_is_the_teams():
    am = alertmanager_config(TEAM_AM, "targets/shop.yaml")
    assert am["route"] == TEAM_AM["route"] and am["inhibit_rules"] == TEAM_AM["inhibit_rules"]
    assert am["global"] == {"resolve_timeout": "5m"} and "templates" not in am
    assert am["receivers"] == [
        {"name": "oncall", "webhook_configs": [{"url": "${webhook}/oncall", "send_resolved": True}]},
        {"name": "tickets", "webhook_configs": [{"url": "${webhook}/tickets", "send_resolved": True}]}]
    text = yaml.safe_dump(am)
    assert "tickets.example" not in text and "<secret>" not in text and "pagerduty" not in text
    with pytest.raises(ConfigError, match="no route tree"):
        alertmanager_config({"receivers": []}, "targets/shop.yaml")


def test_the_folder_renders_to_the_teams_rules_with_its_dollars_kept(tmp_path):
    prom = FakeApi("http://127.0.0.1:9090", rule_groups=GROUPS, config={"global": {
        "scrape_interval": "15s", "evaluation_interval": "15s", "external_labels": {"cluster": "eu-1"},
        "query_log_file": "/var/log/q"}}, active_targets=[target("shop", "http://127.0.0.1:9113/metrics")])
    am = FakeApi("http://127.0.0.1:9093", config=TEAM_AM)
    lines = read_alerting(prom, am, Reach.of(["127.0.0.0/8"], "safety.allow"), tmp_path, "targets/shop.yaml")
    assert lines[0].startswith("read from http://127.0.0.1:9090: 1 alerting rule(s) in 1 group(s), 1 scrape job(s)")
    rules = load_yaml_template(tmp_path / "prometheus" / "rules" / "shop.yml", {"runbooks": "/r"})
    (group,) = rules["groups"]
    assert group["interval"] == "15s"
    alert, record = group["rules"]
    assert alert == {"alert": "ShopDown", "expr": 'up{job="shop"} == 0', "for": "60s",
                     "labels": {"severity": "page"},
                     "annotations": {"summary": "{{ $labels.instance }} is down ($value)"}}
    assert record == {"record": "job:up:sum", "expr": "sum by (job) (up)"}
    config = load_yaml_template(tmp_path / "prometheus" / "prometheus.yml",
                                {"rules_dir": "/out/rules", "alertmanager": "127.0.0.1:1"})
    assert config["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s",
                                "external_labels": {"cluster": "eu-1"}}
    assert config["rule_files"] == ["/out/rules/*.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": ["127.0.0.1:1"]}]
    routes = load_yaml_template(tmp_path / "alertmanager" / "alertmanager.yml", {"webhook": "http://127.0.0.1:2"})
    assert routes["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:2/oncall"


def test_a_prometheus_with_no_alerting_rule_is_one_line(tmp_path):
    prom = FakeApi("http://p", rule_groups=[{"name": "r", "file": "r.yml", "interval": 15,
                                             "rules": [GROUPS[0]["rules"][1]]}],
                   config={}, active_targets=[])
    with pytest.raises(ConfigError, match="no alerting rule to mutate"):
        read_alerting(prom, FakeApi("http://a", config=TEAM_AM), Reach(), tmp_path, "targets/shop.yaml")
