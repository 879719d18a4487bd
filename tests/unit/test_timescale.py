from __future__ import annotations

import pytest

from gameday.pipeline.timescale import (
    RuleError,
    check_scaled,
    durations_in,
    scale_alertmanager,
    scale_prometheus,
    scale_promql,
    scale_rules,
)


@pytest.mark.parametrize("expr, want", [
    ('rate(x[5m])', 'rate(x[5s])'),
    ('max_over_time(up[10m:30s])', 'max_over_time(up[10s:500ms])'),
    ('max_over_time(up[10m:])', 'max_over_time(up[10s:])'),
    ('rate(x[5m] offset 1h)', 'rate(x[5s] offset 1m)'),
    ('x offset -2m', 'x offset -2s'),
    ('sum(rate(x{path="/a[5m]", q=\'offset 1h\'}[1h30m]))', 'sum(rate(x{path="/a[5m]", q=\'offset 1h\'}[1m30s]))'),
    ('up{job="x"} == 0', 'up{job="x"} == 0'),
    ('my_offset_total > 1', 'my_offset_total > 1'),
])
def test_scale_promql_touches_only_durations(expr, want):
    got = scale_promql(expr, 60)
    assert got == want
    check_scaled(expr, got, 60)


def test_scale_factor_one_is_identity():
    expr = 'rate(x[5m] offset 1m)'
    assert scale_promql(expr, 1) is expr


def test_check_scaled_catches_a_missed_duration():
    with pytest.raises(ValueError, match="mangled"):
        check_scaled("rate(x[5m]) + rate(y[1h])", "rate(x[5s]) + rate(y[1h])", 60)


def test_durations_in_reads_the_parse_tree():
    assert durations_in("rate(x[5m] offset 1m) + max_over_time(y[10m:30s])") == [300_000, 60_000, 600_000, 30_000]


def test_prometheus_and_alertmanager_timers_scale():
    prom = scale_prometheus({"global": {"scrape_interval": "5s", "evaluation_interval": "5s", "scrape_timeout": "4s"},
                             "scrape_configs": [{"job_name": "a", "scrape_interval": "1m"}]}, 60)
    assert prom["global"] == {"scrape_interval": "84ms", "evaluation_interval": "84ms", "scrape_timeout": "67ms"}
    assert prom["scrape_configs"][0]["scrape_interval"] == "1s"
    am = scale_alertmanager({"route": {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
                                       "routes": [{"group_wait": "10s"}]}}, 60)
    assert am["route"]["group_wait"] == "500ms" and am["route"]["group_interval"] == "5s"
    assert am["route"]["repeat_interval"] == "4m" and am["route"]["routes"][0]["group_wait"] == "167ms"


@pytest.mark.parametrize("factor", [1, 60])
def test_a_broken_rule_is_named_by_its_place_in_the_file(factor):
    doc = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"},
                                              {"alert": "B", "expr": "rate(x[5m]", "for": "1m"}]}]}
    with pytest.raises(RuleError) as err:
        scale_rules(doc, factor)
    assert err.value.field == "groups[0].rules[1].expr" and "parenthesis" in err.value.reason


def test_a_bad_for_is_named():
    with pytest.raises(RuleError, match=r"groups\[0\].rules\[0\].for: not a duration"):
        scale_rules({"groups": [{"rules": [{"alert": "A", "expr": "up", "for": "soon"}]}]}, 60)

