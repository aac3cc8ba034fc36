"""Freeze windows as the config writes them: cron or RRULE, a duration, a time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.domain.policy import FreezeWindow, Policy, is_frozen

WEEKEND = FreezeWindow(
    name="weekend", schedule="0 18 * * FRI", duration=timedelta(hours=62), timezone="Europe/Berlin"
)
CHRISTMAS = FreezeWindow(
    name="christmas", schedule="FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", duration=timedelta(hours=72)
)


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        (datetime(2026, 11, 27, 16, 59, tzinfo=UTC), False),  # Fri 17:59 in Berlin
        (datetime(2026, 11, 27, 17, 0, tzinfo=UTC), True),  # Fri 18:00 in Berlin
        (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), True),  # Sunday
        (datetime(2026, 11, 30, 6, 59, tzinfo=UTC), True),  # Mon 07:59 in Berlin
        (datetime(2026, 11, 30, 7, 0, tzinfo=UTC), False),  # Mon 08:00 in Berlin
        (datetime(2026, 7, 3, 16, 0, tzinfo=UTC), True),  # Fri 18:00 in Berlin, summer time
    ],
)
def test_a_cron_window_follows_its_time_zone(at: datetime, frozen: bool) -> None:
    assert (is_frozen(Policy(freeze=(WEEKEND,)), at) is WEEKEND) is frozen


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 26, 18, 49, 0, tzinfo=UTC),  # as one window starts
        datetime(2026, 11, 26, 18, 49, 30, tzinfo=UTC),
        datetime(2026, 11, 26, 18, 49, 59, 500_000, tzinfo=UTC),  # the next starts in 0.5 s
        datetime(2026, 11, 26, 18, 49, 59, 999_999, tzinfo=UTC),
    ],
)
def test_a_window_starting_every_minute_covers_every_moment(at: datetime) -> None:
    always = FreezeWindow(name="always", schedule="* * * * *", duration=timedelta(minutes=2))
    assert is_frozen(Policy(freeze=(always,)), at) is always


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


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not a time zone"):
        FreezeWindow(
            name="x", schedule="* * * * *", duration=timedelta(hours=1), timezone="Mars/Olympus"
        )
