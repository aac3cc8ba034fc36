"""The Freeze aggregate settles which window is in force: each change once, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.domain.audit import Audit
from engine.domain.freeze import Freeze, Occurrence

T0 = datetime(2026, 3, 6, 18, tzinfo=UTC)


def _occurrence(window: str, start: datetime, hours: int = 1) -> Occurrence:
    return Occurrence(window=window, started_at=start, ends_at=start + timedelta(hours=hours))


def test_the_same_occurrence_settled_twice_is_recorded_once() -> None:
    freeze = Freeze(app="shop", environment="prod")
    evening = _occurrence("evening", T0)

    assert freeze.settle(evening, now=T0)
    assert not freeze.settle(evening, now=T0 + timedelta(minutes=5))
    assert freeze.current == evening
    assert len(freeze.collect_events()) == 2  # created, started


def test_a_window_followed_at_once_by_another_ends_before_the_next_starts() -> None:
    freeze = Freeze(app="shop", environment="prod")
    freeze.settle(_occurrence("evening", T0), now=T0)
    freeze.collect_events()

    night = _occurrence("night", T0 + timedelta(hours=1), hours=8)
    assert freeze.settle(night, now=T0 + timedelta(hours=1))
    ended, started = freeze.collect_events()
    assert (ended.window, ended.at) == ("evening", T0 + timedelta(hours=1))  # type: ignore[attr-defined]
    assert started.window == "night"  # type: ignore[attr-defined]


def test_a_window_the_config_took_away_ends_when_the_clock_saw_it_gone() -> None:
    freeze = Freeze(app="shop", environment="prod")
    freeze.settle(_occurrence("evening", T0), now=T0)
    freeze.collect_events()

    assert freeze.settle(None, now=T0 + timedelta(minutes=20))
    [ended] = freeze.collect_events()
    assert ended.at == T0 + timedelta(minutes=20)  # type: ignore[attr-defined]
    assert freeze.current is None


def test_a_broken_position_is_recorded_once() -> None:
    audit = Audit()
    assert audit.found_broken(position=3, reason="hash does not match", at=T0)
    assert not audit.found_broken(position=3, reason="hash does not match", at=T0)
    assert audit.found_broken(position=7, reason="event is missing", at=T0)
    assert audit.broken == [3, 7]
