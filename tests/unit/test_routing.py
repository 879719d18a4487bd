from __future__ import annotations

from string import Template

import yaml

from gameday.pipeline.routing import route_for


def lab_routes(root):
    text = Template((root / "config/alertmanager/alertmanager.yml").read_text()).substitute(webhook="http://x")
    return yaml.safe_load(text)


def test_critical_pages_the_pager_with_the_route_timers(root):
    match = route_for(lab_routes(root), {"alertname": "ServiceDown", "severity": "critical"})
    assert match.receivers == ["pager"] and match.group_wait == 5 and match.group_interval == 30


def test_warning_goes_to_chat_info_to_a_ticket_and_unmatched_to_the_default(root):
    chat = route_for(lab_routes(root), {"severity": "warning"})
    assert chat.receivers == ["chat"] and chat.group_wait == 10
    assert route_for(lab_routes(root), {"severity": "info"}).receivers == ["ticket"]
    assert route_for(lab_routes(root), {"severity": "debug"}).receivers == ["chat"]


def test_child_timers_override_and_continue_fans_out():
    config = {"route": {"receiver": "default", "group_wait": "30s", "routes": [
        {"match": {"team": "a"}, "receiver": "a", "group_wait": "5s", "continue": True},
        {"match_re": {"team": "a|b"}, "receiver": "ab"},
    ]}}
    match = route_for(config, {"team": "a"})
    assert match.receivers == ["a", "ab"] and match.group_wait == 5
    assert route_for(config, {"team": "b"}).group_wait == 30
    assert route_for(config, {"team": "c"}).receivers == ["default"]
    assert route_for({"route": {"receiver": "r"}}, {}).group_interval == 300  # Alertmanager's defaults


def test_negative_and_regex_matchers():
    config = {"route": {"receiver": "default", "routes": [
        {"matchers": ['severity=~"crit.*"', 'env!="dev"'], "receiver": "pager"}]}}
    assert route_for(config, {"severity": "critical", "env": "prod"}).receivers == ["pager"]
    assert route_for(config, {"severity": "critical", "env": "dev"}).receivers == ["default"]
