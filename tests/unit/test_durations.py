from __future__ import annotations

from datetime import timedelta

import pytest

from gameday.core.durations import format_ms, human, parse_ms, scale_text, seconds


@pytest.mark.parametrize("text, ms", [("30s", 30_000), ("2m", 120_000), ("1h30m", 5_400_000), ("250ms", 250),
                                      ("1d", 86_400_000), ("1w", 604_800_000), ("1m30s500ms", 90_500)])
def test_parse(text, ms):
    assert parse_ms(text) == ms


@pytest.mark.parametrize("bad", ["", "5", "1.5s", "5 m", "m5", "5min", "-1s"])
def test_parse_rejects(bad):
    with pytest.raises(ValueError, match="not a duration"):
        parse_ms(bad)


@pytest.mark.parametrize("ms, text", [(0, "0s"), (500, "500ms"), (2_500, "2s500ms"), (90_000, "1m30s"),
                                      (86_400_000 * 8, "8d")])
def test_format_round_trips(ms, text):
    assert format_ms(ms) == text
    assert parse_ms(text) == ms


@pytest.mark.parametrize("text, factor, want", [("5m", 60, "5s"), ("2m", 60, "2s"), ("30s", 60, "500ms"),
                                                ("15s", 60, "250ms"), ("4h", 60, "4m"), ("1s", 3, "334ms"),
                                                ("1ms", 1000, "1ms"), ("5m", 1, "5m")])
def test_scale_text_rounds_up_never_to_zero(text, factor, want):
    assert scale_text(text, factor) == want


def test_seconds_accepts_every_form():
    assert seconds("1m30s") == 90 and seconds(timedelta(minutes=2)) == 120 and seconds(2.5) == 2.5


@pytest.mark.parametrize("value, text", [(None, "-"), (0.85, "850ms"), (12.34, "12.3s"), (125, "2m05s"),
                                         (3720, "1h02m"), (-2, "-2.0s")])
def test_human(value, text):
    assert human(value) == text
