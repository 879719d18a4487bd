"""How long a rate-window rule needs at a fault's intensity: parsed from the real rules, checked on the arithmetic."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import yaml

from gameday.pipeline.detection import Condition, Intensity, Window, conditions, crossing, estimate, intensity_of
from tests.conftest import ROOT


def rules() -> tuple[dict[str, str], dict[str, str]]:
    alerting, recording = {}, {}
    for name in ("inference.yml", "slo.yml"):
        for group in yaml.safe_load((ROOT / "config/prometheus/rules" / name).read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    alerting[rule["alert"]] = rule["expr"]
                else:
                    recording[rule["record"]] = rule["expr"]
    return alerting, recording


def conds_of(alert: str) -> list[Condition] | None:
    alerting, recording = rules()
    return conditions(alerting[alert].replace("${runbooks}", ""), recording)


def test_the_rules_are_read_as_their_windows_and_thresholds():
    fast = conds_of("SLOAvailabilityFastBurn")
    assert [(c.kind, c.window, round(c.threshold, 6), c.job) for c in fast] == [
        ("ratio", 3600.0, 0.072, "inference-gateway"), ("ratio", 300.0, 0.072, "inference-gateway")]
    assert fast[0].expr.startswith("slo:predict_errors:ratio_rate1h"), "the recording rule is what is compared"
    (p99,) = conds_of("SLOLatencyP99Violation")
    assert (p99.kind, p99.window, p99.threshold, p99.quantile) == ("quantile", 300.0, 0.5, 0.99)
    assert conds_of("ServiceDown") is None, "up == 0 has no window: not estimated"


def test_the_full_window_figures_are_the_burn_rate_formula():
    """(1 - SLO) / error ratio x window x burn rate: the fast burn at 20% errors after 21.6 min."""
    est = estimate(conds_of("SLOAvailabilityFastBurn"), Intensity(error_share=0.2))
    assert est.lag == pytest.approx(0.005 / 0.2 * 3600 * 14.4)
    slow = estimate(conds_of("SLOAvailabilitySlowBurn"), Intensity(error_share=0.05))
    assert slow.lag == pytest.approx(0.005 / 0.05 * 6 * 3600 * 6)  # 3.6 h, within the slow-burn drill's SLA of 5h


def test_a_short_history_or_earlier_errors_cross_sooner():
    cond = Condition("ratio", 300.0, 0.05)
    full = crossing(cond, Intensity(error_share=1.0))
    assert full == pytest.approx(15.0)
    assert crossing(cond, Intensity(error_share=1.0), Window(history=10.0)) == pytest.approx(0.05 * 10 / 0.95)
    assert crossing(cond, Intensity(error_share=1.0), Window(300.0, ratio=0.03)) == pytest.approx(0.02 * 300 / 0.97)
    assert crossing(cond, Intensity(error_share=1.0), Window(300.0, ratio=0.06)) == 0.0


def test_an_intensity_at_or_below_the_threshold_is_never_expected():
    est = estimate(conds_of("SLOAvailabilityFastBurn"), Intensity(error_share=0.04))
    assert est.never and "averages 0.04, not above its threshold" in est.why
    assert crossing(Condition("ratio", 60.0, 0.05), Intensity(error_share=0.05)) == math.inf


def test_latency_counts_when_the_slow_requests_end():
    (p99,) = conds_of("SLOLatencyP99Violation")
    assert crossing(p99, Intensity(added_latency=0.8)) == pytest.approx(0.01 * 300 + 0.8)
    assert crossing(p99, Intensity(added_latency=0.3)) is None, "below the threshold: not estimated, not refused"


def test_the_faults_intensity():
    spec = SimpleNamespace
    assert intensity_of(spec(kind="request-failures", percent=20, target="model-backend")).error_share == 0.2
    assert intensity_of(spec(kind="stop-service", target="model-backend")).error_share == 1.0
    assert intensity_of(spec(kind="stop-service", target="inference-gateway")) is None
    assert intensity_of(spec(kind="latency", delay=0.8, target="model-backend")).added_latency == 0.8
    assert intensity_of(spec(kind="kill-service", target="inference-gateway")) is None
