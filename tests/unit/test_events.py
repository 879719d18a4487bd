"""A listener that raises is logged and the drill goes on: the other listeners are told, the failure is kept
for the journal's cautions, and only a signal goes through to the drill."""

from __future__ import annotations

import logging

import pytest

from gameday.record.events import DrillEvents


class Broken:
    def on_marked(self, **_: object) -> None:
        raise RuntimeError("the report's disk is full")


def test_a_listener_that_raises_is_logged_and_the_others_are_still_told(caplog):
    events, seen = DrillEvents(), []
    events.subscribe(Broken())
    events.marked.add_listener(lambda **kw: seen.append(kw["name"]))
    with caplog.at_level(logging.WARNING, logger="gameday.events"):
        events.marked.fire(name="t_inject", t=1.0, detail="", alert=None)
        events.marked.fire(name="t_notified", t=2.0, detail="", alert=None)
    assert seen == ["t_inject", "t_notified"]
    assert len(events.failures()) == 2 and "the report's disk is full" in events.failures()[0]
    assert "Broken.on_marked failed on marked" in caplog.text


def test_a_signal_in_a_listener_reaches_the_drill():
    events = DrillEvents()

    def interrupted(**_: object) -> None:
        raise KeyboardInterrupt

    events.progress.add_listener(interrupted)
    with pytest.raises(KeyboardInterrupt):
        events.progress.fire(phase="detect", t=0.0, elapsed=None, deadline=None, note="")
    assert events.failures() == []
