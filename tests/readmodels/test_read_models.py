"""What the read models answer after a release walks the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest
from storyline import Story

from projections import queries, timetravel
from projections.jsontext import iso_utc
from projections.runner import ProjectionRunner, projection_status

pytestmark = pytest.mark.store


async def test_targets_show_what_should_run_and_what_runs_everywhere(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    ids = await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        targets = {t["environment"]: t for t in await queries.list_targets(conn, "web")}
    assert set(targets) == {"dev", "staging", "prod"}
    prod = targets["prod"]
    assert (prod["desired_release"], prod["applied_release"]) == (ids["r1"], ids["r1"])
    assert (prod["health"], prod["sync_status"]) == ("Healthy", "Synced")
    assert prod["last_verified_release"] == ids["r1"]
    assert prod["last_actor"] == "applier"
    dev = targets["dev"]
    assert dev["desired_release"] == ids["r1"], "dev was rolled back to release 1"
    assert dev["promotion_phase"] == "completed"


async def test_a_promotion_records_who_asked_and_who_approved(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    ids = await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        promotion = await queries.get_promotion(conn, ids["prod_promotion"])
    assert promotion is not None
    assert promotion["requested_by"] == "alice"
    assert [a["by"] for a in promotion["approvals"]] == ["bob"]
    assert promotion["approvals"][0]["comment"] == "lgtm"
    assert (promotion["phase"], promotion["outcome"]) == ("completed", "verified")


async def test_lineage_tells_where_a_release_went_and_where_it_was_rolled_back(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    ids = await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        first = await queries.release_lineage(conn, "web", ids["r1"][:10])
        second = await queries.release_lineage(conn, "web", ids["r2"])
        releases = await queries.list_releases(conn, "web", limit=1)
        too_short = await queries.release_lineage(conn, "web", ids["r1"][:6])
        wildcard = await queries.release_lineage(conn, "web", "1111111%")
    assert too_short is None and wildcard is None, "a prefix is at least 7 hex digits"
    assert first is not None and second is not None
    reached = {e["environment"]: e for e in first["environments"]}
    assert set(reached) == {"dev", "staging", "prod"}
    assert [a["by"] for a in reached["prod"]["approvals"]] == ["bob"]
    assert reached["prod"]["verified_at"] is not None
    assert reached["prod"]["soak_seconds"] >= 0
    (dev,) = second["environments"]
    assert dev["outcome"] == "Degraded after sync"
    assert dev["rolled_back_by"] == "baton"
    assert dev["rolled_back_reason"] == "auto-rollback: Degraded"
    assert [r["number"] for r in releases] == [2]


async def test_the_audit_reads_as_sentences_and_filters_by_target_and_actor(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        prod = await queries.audit_page(conn, app="web", environment="prod", limit=100)
        bob = await queries.audit_page(conn, actor="bob")
        page = await queries.audit_page(conn, limit=3)
        older = await queries.audit_page(conn, limit=3, before_position=page[-1]["position"])
        head = await conn.fetchval("SELECT position FROM event_head")
    assert all(r["environment"] == "prod" for r in prod)
    assert [r["action"] for r in bob] == ["PromotionStarted", "PromotionApproved"]
    assert bob[1]["summary"].startswith("bob approved ")
    assert [r["position"] for r in page + older] == list(range(head, head - 6, -1))


async def test_every_combination_of_audit_filters_picks_what_each_filter_picks(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        everything = await queries.audit_page(conn, limit=10_000)
        middle = everything[len(everything) // 2]
        values = {
            "app": "web",
            "environment": "prod",
            "actor": "bob",
            "action": "Target.PromotionStarted",
            "since": everything[-1]["recorded_at"],
            "until": middle["recorded_at"],
            "before_position": middle["position"] + 3,
        }
        checks = {
            "app": lambda r, v: r["app"] == v,
            "environment": lambda r, v: r["environment"] == v,
            "actor": lambda r, v: r["actor"] == v,
            "action": lambda r, v: r["event_type"] == v,
            "since": lambda r, v: r["recorded_at"] >= v,
            "until": lambda r, v: r["recorded_at"] < v,
            "before_position": lambda r, v: r["position"] < v,
        }
        # each filter alone, each pair, and all at once; and the same on one connection,
        # where each combination must not take another's plan
        combinations = (
            [[n] for n in values]
            + [[a, b] for i, a in enumerate(values) for b in list(values)[i + 1 :]]
            + [list(values)]
        )
        for names in combinations:
            filters = {n: values[n] for n in names}
            got = await queries.audit_page(conn, limit=10_000, **filters)
            expected = [
                r["position"]
                for r in everything
                if all(checks[n](r, v) for n, v in filters.items())
            ]
            assert [r["position"] for r in got] == expected, names
        assert await queries.audit_page(conn, action="App.PromotionStarted") == [], (
            "a full type matches the event's aggregate too"
        )


async def test_time_travel_answers_what_ran_where_at_any_moment(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    ids = await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        synced_r2 = await conn.fetchval(
            "SELECT position FROM events WHERE type = 'Target.SyncSucceeded'"
            " AND data->>'release' = $1",
            ids["r2"],
        )
        at_r2 = await timetravel.state_as_of(conn, position=synced_r2)
        now = await timetravel.state_as_of(conn, position=10**9)
        start = await conn.fetchval("SELECT min(recorded_at) FROM events")
        end = await conn.fetchval("SELECT max(recorded_at) FROM events")
        diff = await timetravel.state_diff(conn, from_=start - timedelta(seconds=1), to=end)
        changes = await timetravel.changes_between(
            conn, since=start - timedelta(seconds=1), until=end
        )
    dev_then = next(r for r in at_r2 if r["environment"] == "dev")
    assert dev_then["applied_release"] == ids["r2"]
    dev_now = next(r for r in now if r["environment"] == "dev")
    assert dev_now["applied_release"] == ids["r1"]
    assert {(d["environment"], d["field"]) for d in diff} == {
        (env, f)
        for env in ("dev", "staging", "prod")
        for f in ("desired_release", "applied_release")
    }
    assert [
        c["release"] for c in changes if c["environment"] == "dev" and c["kind"] == "desired"
    ] == [ids["r1"], ids["r2"], ids["r1"]]


# the periods containing a position, read plainly from the history's own columns
PERIODS_AT = """
SELECT app, environment, desired_release, applied_release, desired_since, applied_since,
       desired_by, promotion_id
  FROM target_history WHERE from_position <= $1 AND to_position > $1
UNION ALL
SELECT app, environment, desired_release, applied_release, desired_since, applied_since,
       desired_by, promotion_id
  FROM target_history_open WHERE from_position <= $1
"""


async def test_the_state_as_json_is_what_the_periods_encode_to_at_every_position(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT position FROM event_head")
        for position in range(head + 2):
            periods = await conn.fetch(PERIODS_AT, position)
            rows = sorted((dict(r) for r in periods), key=lambda r: (r["app"], r["environment"]))
            text = await timetravel.state_as_of_json(conn, position=position)
            assert text == orjson.dumps(rows).decode(), position
            assert await timetravel.state_as_of(conn, position=position) == rows
        assert orjson.loads(text), "the walk leaves targets with releases"
        for moment in (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC),
        ):
            written = await conn.fetchval(f"SELECT {iso_utc('$1::timestamptz')}", moment)
            assert orjson.dumps(moment).decode() == f'"{written}"'


async def test_status_shows_checkpoints_and_lag(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    async with pool.acquire() as conn:
        before = {s.name: s.lag for s in await projection_status(conn)}
        await runner.catch_up()
        after = {s.name: s.lag for s in await projection_status(conn)}
    head = await story.store.head_position()
    assert before == {"audit": head, "history": head, "state": head}
    assert after == {"audit": 0, "history": 0, "state": 0}


async def test_the_audit_filters_by_time_range(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        times = await conn.fetch("SELECT position, recorded_at FROM events ORDER BY position")
        # every event's own time as a bound, and a microsecond either side of it
        moments = sorted(
            {t["recorded_at"] + timedelta(microseconds=d) for t in times[::4] for d in (-1, 0, 1)}
        )
        for since, until in (
            [(m, None) for m in moments]
            + [(None, m) for m in moments]
            + [(a, b) for a, b in zip(moments, moments[len(moments) // 2 :], strict=False)]
        ):
            window = await queries.audit_page(conn, since=since, until=until, limit=1000)
            expected = [
                t["position"]
                for t in times
                if (since is None or since <= t["recorded_at"])
                and (until is None or t["recorded_at"] < until)
            ]
            assert sorted(r["position"] for r in window) == expected, (since, until)
