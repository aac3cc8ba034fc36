"""`GET /insights`: the four DORA keys, as a user would count them by hand from a history
recorded through the real commands at known times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.domain.enums import Health
from engine.domain.target import Target
from engine.store import EventMetadata
from tests.api.conftest import Api, problem

SHA4, SHA5, SHA6 = "4" * 40, "5" * 40, "6" * 40
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def midnight_a_week_ago() -> datetime:
    """T0: the history starts then, so that the default window (30 days) holds it."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - 7 * DAY


class Story:
    """Plays people and the applier at chosen times."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.promotions = api.promotions
        self.meta = EventMetadata(actor="dev")

    async def release(self, sha: str, committed_at: datetime) -> None:
        await self.promotions.create_release(
            "web",
            sha=sha,
            digest="d" * 64,
            message="change",
            author="dev",
            committed_at=committed_at,
            metadata=EventMetadata(actor="git-watcher"),
        )

    async def promote(self, env: str, sha: str, at: datetime) -> str:
        self.promotions.clock = lambda: at
        promotion = await self.promotions.request("web", env, release=sha, metadata=self.meta)
        return promotion.id

    async def rollback(self, env: str, at: datetime) -> None:
        self.promotions.clock = lambda: at
        await self.promotions.rollback("web", env, metadata=self.meta, reason="broken")

    async def on_target(self, env: str, act: Any) -> None:
        repo = self.promotions.repository
        target = await repo.get(Target, f"target:web:{env}")
        act(target)
        await repo.save(target, metadata=EventMetadata(actor="applier"))

    async def synced(self, env: str, sha: str, at: datetime) -> None:
        await self.on_target(
            env, lambda t: t.record_sync(sync_id=f"s-{env}-{at:%d%H%M}", release=sha, now=at)
        )

    async def health(self, env: str, health: Health, at: datetime) -> None:
        await self.on_target(env, lambda t: t.record_health(health=health, reasons=[], now=at))

    async def verified(self, env: str, at: datetime) -> None:
        await self.on_target(env, lambda t: t.verify(soak_seconds=0, now=at))

    async def deploy(self, env: str, sha: str, *, asked: datetime, done: datetime) -> None:
        """Promote, sync, healthy, verified."""
        await self.promote(env, sha, asked)
        await self.synced(env, sha, done)
        await self.health(env, Health.HEALTHY, done)
        await self.verified(env, done)

    async def failed(self, env: str, promotion_id: str, at: datetime) -> None:
        await self.on_target(
            env, lambda t: t.fail(promotion_id=promotion_id, reason="degraded", now=at)
        )


async def record_history(api: Api, t0: datetime) -> None:
    """Three days in dev and staging (prod stays quiet).

    dev: R4 deployed on day 1 (commit 00:00, verified 02:00: lead time 2 h); R5 on day 2
    (commit 00:00, verified 03:00: 3 h); R6 on day 3 degrades at 02:00, fails at 02:10, is
    rolled back to R5 at 02:20; Healthy again at 02:50 (restored after 50 min), the
    rollback verified at 03:00. staging: R4 on day 1 (verified 04:00: 4 h), Degraded on day
    2 from 05:00 to 05:30 (30 min), Degraded again on day 3 at 05:00 and never restored.
    """
    s = Story(api)
    await s.release(SHA4, t0)
    await s.release(SHA5, t0 + DAY)
    await s.release(SHA6, t0 + 2 * DAY)
    await s.deploy("dev", SHA4, asked=t0 + HOUR, done=t0 + 2 * HOUR)
    await s.deploy("staging", SHA4, asked=t0 + 3 * HOUR, done=t0 + 4 * HOUR)
    await s.deploy("dev", SHA5, asked=t0 + DAY + HOUR, done=t0 + DAY + 3 * HOUR)
    await s.health("staging", Health.DEGRADED, t0 + DAY + 5 * HOUR)
    await s.health("staging", Health.HEALTHY, t0 + DAY + 5 * HOUR + 30 * MINUTE)
    day3 = t0 + 2 * DAY
    broken = await s.promote("dev", SHA6, day3 + HOUR)
    await s.synced("dev", SHA6, day3 + 2 * HOUR)
    await s.health("dev", Health.DEGRADED, day3 + 2 * HOUR)
    await s.failed("dev", broken, day3 + 2 * HOUR + 10 * MINUTE)
    await s.rollback("dev", day3 + 2 * HOUR + 20 * MINUTE)
    await s.synced("dev", SHA5, day3 + 2 * HOUR + 50 * MINUTE)
    await s.health("dev", Health.HEALTHY, day3 + 2 * HOUR + 50 * MINUTE)
    await s.verified("dev", day3 + 3 * HOUR)
    await s.health("staging", Health.DEGRADED, day3 + 5 * HOUR)


async def insights(api: Api, **query: str) -> dict[str, Any]:
    response = await api.get("/insights", params=query)
    body = await response.json()
    assert response.status == 200, body
    return body  # type: ignore[no-any-return]


def by_env(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["environment"]: item for item in body["items"]}


async def test_the_four_keys_are_what_a_user_counts_by_hand(api: Api) -> None:
    t0 = midnight_a_week_ago()
    await record_history(api, t0)
    until = t0 + 8 * DAY  # tomorrow: after every event was recorded
    body = await insights(api, app="web", since=t0.isoformat(), until=until.isoformat())
    assert body["bucket"] == "day"
    envs = by_env(body)
    assert list(envs) == ["dev", "staging", "prod"]  # the pipeline's order

    dev = envs["dev"]
    # R4, R5 and the rollback to R5: three deployments in eight days
    assert dev["deployments"] == {"count": 3, "per_day": 3 / 8}
    # 2 h and 3 h (the rollback has no lead time): median 2.5 h, p90 2.9 h
    assert dev["lead_time"] == {"count": 2, "p50_seconds": 9000.0, "p90_seconds": 10440.0}
    # R4, R5, R6 started; R6 failed and was rolled back: one failed change, not two
    assert dev["change_failure"] == {"started": 3, "failed": 1, "rate": pytest.approx(1 / 3)}
    # Degraded at 02:00 (the failure and the rollback join it), Healthy at 02:50
    assert dev["restore"] == {
        "incidents": 1,
        "restored": 1,
        "p50_seconds": 3000.0,
        "mean_seconds": 3000.0,
    }
    days = dev["buckets"]
    assert len(days) == 8
    assert datetime.fromisoformat(days[0]["start"]) == t0
    assert [d["deployments"] for d in days] == [1, 1, 1, 0, 0, 0, 0, 0]
    assert [d["lead_time_p50_seconds"] for d in days[:3]] == [7200.0, 10800.0, None]
    assert [d["change_failure_rate"] for d in days[:4]] == [0.0, 0.0, 1.0, None]
    assert days[2]["restore_p50_seconds"] == 3000.0

    staging = envs["staging"]
    assert staging["deployments"]["count"] == 1
    assert staging["lead_time"]["p50_seconds"] == staging["lead_time"]["p90_seconds"] == 14400.0
    assert staging["change_failure"] == {"started": 1, "failed": 0, "rate": 0.0}
    # the second Degraded is still open at the window's end
    assert staging["restore"] == {
        "incidents": 2,
        "restored": 1,
        "p50_seconds": 1800.0,
        "mean_seconds": 1800.0,
    }

    prod = envs["prod"]
    assert prod["deployments"] == {"count": 0, "per_day": 0.0}
    assert prod["change_failure"]["rate"] is None
    assert prod["restore"]["p50_seconds"] is None


async def test_the_default_window_is_the_last_30_days_and_weeks_cut_longer_ones(
    api: Api,
) -> None:
    t0 = midnight_a_week_ago()
    await record_history(api, t0)
    body = await insights(api, app="web", environment="dev")
    assert [i["environment"] for i in body["items"]] == ["dev"]
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == 30 * DAY
    assert body["items"][0]["deployments"]["count"] == 3

    weekly = await insights(
        api, since=(t0 - 60 * DAY).isoformat(), until=(t0 + 8 * DAY).isoformat()
    )
    assert weekly["bucket"] == "week"
    dev = by_env(weekly)["dev"]
    assert sum(b["deployments"] for b in dev["buckets"]) == 3
    assert all(datetime.fromisoformat(b["start"]).weekday() == 0 for b in dev["buckets"])


async def test_a_window_without_the_history_counts_nothing(api: Api) -> None:
    t0 = midnight_a_week_ago()
    await record_history(api, t0)
    body = await insights(
        api, app="web", since=(t0 - 20 * DAY).isoformat(), until=(t0 - 10 * DAY).isoformat()
    )
    assert all(i["deployments"]["count"] == 0 for i in body["items"])


async def test_bad_input_is_a_problem_naming_the_field(api: Api) -> None:
    assert await problem(await api.get("/insights", params={"app": "nope"}), 404)
    await problem(await api.get("/insights", params={"app": "web", "environment": "qa"}), 404)
    backwards = await api.get(
        "/insights", params={"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    )
    assert (await problem(backwards, 422, "validation-error"))["field"] == "since"
    bucket = await api.get("/insights", params={"bucket": "month"})
    assert (await problem(bucket, 422, "validation-error"))["field"] == "bucket"
    assert (await api.get("/insights", as_=None)).status == 401


async def test_times_at_the_ends_of_the_calendar_are_refused_not_overflowed(api: Api) -> None:
    for name, value in (("until", "0001-01-01T00:00:00Z"), ("since", "9999-12-31T23:59:59Z")):
        response = await api.get("/insights", params={name: value})
        assert (await problem(response, 422, "validation-error"))["field"] == name
