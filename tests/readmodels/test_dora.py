"""The arithmetic of the four DORA keys, without a database: percentiles, buckets, and
which facts count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.domain.enums import Health, PromotionKind
from engine.domain.vocabulary import EventType
from projections.dora import Bucket, Fact, Window, compute, percentile

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def fact(type: EventType, at: datetime, **kw: object) -> Fact:
    return Fact(app="web", environment="prod", type=type, at=at, **kw)  # type: ignore[arg-type]


def window(days: int = 7, bucket: Bucket = Bucket.DAY) -> Window:
    return Window(since=T0, until=T0 + timedelta(days=days), bucket=bucket)


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0, 0.0], 90) == 9.0


def test_weeks_start_on_monday_and_buckets_cover_the_window() -> None:
    assert Bucket.WEEK.floor(datetime(2026, 11, 8, 23, tzinfo=UTC)) == T0
    w = Window(since=T0 + 12 * H, until=T0 + timedelta(days=2, hours=1), bucket=Bucket.DAY)
    assert w.starts() == [T0, T0 + 24 * H, T0 + 48 * H]
    assert Bucket.default_for(T0, T0 + timedelta(days=31)) is Bucket.DAY
    assert Bucket.default_for(T0, T0 + timedelta(days=32)) is Bucket.WEEK


def test_a_quiet_target_has_zeros_and_no_rates() -> None:
    [quiet] = compute([], window=window(), targets=[("web", "prod")])
    assert quiet["deployments"] == {"count": 0, "per_day": 0.0}
    assert quiet["change_failure"] == {"started": 0, "failed": 0, "rate": None}
    assert len(quiet["buckets"]) == 7  # type: ignore[arg-type]


def test_a_failure_of_a_change_started_before_the_window_is_an_incident_not_a_failed_change() -> (
    None
):
    facts = [
        fact(EventType.PROMOTION_STARTED, T0 - H, promotion_id="p1", release="a"),
        fact(EventType.PROMOTION_FAILED, T0 + H, promotion_id="p1"),
        fact(EventType.PROMOTION_VERIFIED, T0 + 3 * H, promotion_id="p2", release="b"),
    ]
    [result] = compute(facts, window=window())
    assert result["change_failure"] == {"started": 0, "failed": 0, "rate": None}
    assert result["restore"] == {
        "incidents": 1,
        "restored": 1,
        "p50_seconds": 7200.0,
        "mean_seconds": 7200.0,
    }


def test_a_rollback_is_a_deployment_without_lead_time_and_fails_the_change_it_undoes() -> None:
    committed = T0 - 10 * H
    facts = [
        fact(EventType.PROMOTION_STARTED, T0, promotion_id="p1", release="a"),
        fact(
            EventType.PROMOTION_VERIFIED,
            T0 + H,
            promotion_id="p1",
            release="a",
            committed_at=committed,
        ),
        fact(
            EventType.PROMOTION_REQUESTED,
            T0 + 5 * H,
            promotion_id="r1",
            release="z",
            kind=PromotionKind.ROLLBACK,
        ),
        fact(EventType.RELEASE_ROLLED_BACK, T0 + 5 * H, promotion_id="r1", release="a"),
        fact(
            EventType.PROMOTION_STARTED,
            T0 + 5 * H,
            promotion_id="r1",
            release="z",
            kind=PromotionKind.ROLLBACK,
        ),
        fact(EventType.HEALTH_CHANGED, T0 + 6 * H, health=Health.HEALTHY),
        fact(
            EventType.PROMOTION_VERIFIED,
            T0 + 7 * H,
            promotion_id="r1",
            release="z",
            kind=PromotionKind.ROLLBACK,
            committed_at=committed,
        ),
    ]
    [result] = compute(facts, window=window())
    assert result["deployments"]["count"] == 2  # type: ignore[index]
    assert result["lead_time"]["count"] == 1  # type: ignore[index]
    assert result["lead_time"]["p50_seconds"] == 11 * 3600.0  # type: ignore[index]
    assert result["change_failure"] == {"started": 1, "failed": 1, "rate": 1.0}
    assert result["restore"]["p50_seconds"] == 3600.0  # type: ignore[index]


def test_facts_outside_the_window_do_not_count() -> None:
    facts = [fact(EventType.PROMOTION_VERIFIED, T0 + timedelta(days=8), promotion_id="p")]
    [result] = compute(facts, window=window(), targets=[("web", "prod")])
    assert result["deployments"]["count"] == 0  # type: ignore[index]
