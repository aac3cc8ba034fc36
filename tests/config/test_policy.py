"""Freeze windows and durations: the pure rules the promotion guard calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.domain.policy import (
    FreezeKind,
    FreezeWindow,
    Policy,
    format_duration,
    is_frozen,
    parse_duration,
)

WEEKEND = FreezeWindow(
    kind=FreezeKind.CRON, expression="0 18 * * FRI", duration=timedelta(hours=62),
    timezone="Europe/Berlin",
)
CHRISTMAS = FreezeWindow(
    kind=FreezeKind.RRULE, expression="FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
    duration=timedelta(hours=72),
)


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        (datetime(2026, 11, 27, 16, 59, tzinfo=UTC), False),  # Fri 17:59 in Berlin
        (datetime(2026, 11, 27, 17, 0, tzinfo=UTC), True),  # Fri 18:00 in Berlin
        (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), True),  # Sunday
        (datetime(2026, 11, 30, 6, 59, tzinfo=UTC), True),  # Mon 07:59 in Berlin
        (datetime(2026, 11, 30, 7, 0, tzinfo=UTC), False),  # Mon 08:00 in Berlin
    ],
)
def test_a_cron_window_covers_friday_evening_to_monday_morning(at: datetime, frozen: bool) -> None:
    assert (is_frozen(Policy(freeze=(WEEKEND,)), at) is WEEKEND) is frozen


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        (datetime(2026, 12, 23, 23, 59, tzinfo=UTC), False),
        (datetime(2026, 12, 24, 0, 0, tzinfo=UTC), True),
        (datetime(2026, 12, 26, 23, 59, tzinfo=UTC), True),
        (datetime(2026, 12, 27, 0, 0, tzinfo=UTC), False),
    ],
)
def test_an_rrule_window_covers_christmas(at: datetime, frozen: bool) -> None:
    assert (is_frozen(Policy(freeze=(CHRISTMAS,)), at) is CHRISTMAS) is frozen


def test_no_window_means_never_frozen_and_naive_times_are_refused() -> None:
    assert is_frozen(Policy(), datetime(2026, 1, 1, tzinfo=UTC)) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        is_frozen(Policy(), datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "value"),
    [("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)),
     ("1h30m", timedelta(minutes=90)), ("2d", timedelta(days=2)), ("0s", timedelta(0))],
)
def test_durations_parse_and_format_back(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value
    assert format_duration(value) == text


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5x", "m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_a_window_checks_its_expression_duration_and_zone() -> None:
    with pytest.raises(ValueError, match="not a cron"):
        FreezeWindow(kind=FreezeKind.CRON, expression="x", duration=timedelta(hours=1)).check()
    with pytest.raises(ValueError, match="positive"):
        FreezeWindow(kind=FreezeKind.CRON, expression="* * * * *", duration=timedelta(0)).check()
    with pytest.raises(Exception, match="Mars"):
        FreezeWindow(kind=FreezeKind.CRON, expression="* * * * *", duration=timedelta(1),
                     timezone="Mars/Olympus").check()
