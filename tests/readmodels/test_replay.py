"""Replay and rebuild: live equals rebuilt, crashes apply nothing twice, no event skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg
import pytest
from storyline import Story

from engine.codec import to_domain_event
from engine.domain.target import Target
from engine.repository import default_registry
from engine.store import EventMetadata, EventStore, NewEvent
from projections import timetravel
from projections.audit import AuditProjection
from projections.base import EventRow
from projections.catalog import all_projections
from projections.rebuild import rebuild, verify
from projections.runner import ProjectionRunner, projection_status
from projections.state import StateProjection

pytestmark = pytest.mark.store
LINEAGE = "SELECT * FROM release_environments ORDER BY app, sha, environment"


async def test_a_rebuild_equals_the_live_model_and_is_deterministic(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    report = await verify(pool, all_projections())
    assert report.ok, report.differences
    async with pool.acquire() as conn:
        before = await conn.fetch(LINEAGE)
    await rebuild(pool, all_projections())
    await rebuild(pool, all_projections())
    async with pool.acquire() as conn:
        after = await conn.fetch(LINEAGE)
    assert [dict(r) for r in before] == [dict(r) for r in after]
    assert (await verify(pool, all_projections())).ok


async def test_a_rebuild_keeps_the_statistics_its_tables_are_planned_with(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    statistics = (
        "SELECT stxrelid::regclass::text AS table_name, stxname FROM pg_statistic_ext"
        " WHERE stxnamespace = 'public'::regnamespace ORDER BY stxname"
    )
    await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        before = [tuple(r) for r in await conn.fetch(statistics)]
    await rebuild(pool, all_projections())
    async with pool.acquire() as conn:
        after = [tuple(r) for r in await conn.fetch(statistics)]
    assert ("audit", "audit_action_hash") in before
    assert after == before


async def test_verify_reports_a_live_row_that_the_log_does_not_support(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE targets SET health = 'Healthy' WHERE environment = 'dev'"
            " AND health <> 'Healthy'"
        )
        await conn.execute(
            "UPDATE targets SET desired_release = 'forged' WHERE environment = 'prod'"
        )
    report = await verify(pool, all_projections())
    assert not report.ok
    (difference,) = report.differences
    assert difference.table == "targets"
    assert (difference.only_live, difference.only_rebuilt) == (1, 1)
    assert "forged" in difference.sample[0]


class Gate:
    """Holds a projection inside `apply`, after it wrote its rows, until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


class GatedAudit(AuditProjection):
    gate: ClassVar[Gate | None] = None

    async def apply_range(self, conn: asyncpg.Connection, after: int, upto: int) -> None:
        await super().apply_range(conn, after, upto)
        if self.gate is not None:
            self.gate.entered.set()
            await self.gate.release.wait()


async def test_a_crash_between_the_rows_and_the_checkpoint_applies_nothing_twice(
    story: Story, pool: asyncpg.Pool
) -> None:
    await story.walk()
    gated = GatedAudit()
    runner = ProjectionRunner(pool, [gated], batch_size=5)
    await runner.ensure()
    GatedAudit.gate = Gate()
    step = asyncio.create_task(runner.step(gated))
    await asyncio.wait_for(GatedAudit.gate.entered.wait(), 5)
    step.cancel()  # the process dies mid-batch: rows written, checkpoint not yet
    with pytest.raises(asyncio.CancelledError):
        await step
    GatedAudit.gate = None
    restarted = ProjectionRunner(pool, [AuditProjection()], batch_size=5)
    await restarted.catch_up()
    async with pool.acquire() as conn:
        positions = [
            r["position"] for r in await conn.fetch("SELECT position FROM audit ORDER BY position")
        ]
    head = await story.store.head_position()
    assert positions == list(range(1, head + 1))
    assert (await verify(pool, [AuditProjection()])).ok


async def test_a_projection_never_skips_a_writer_that_commits_late(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    meta = EventMetadata(actor="t")
    await store.append(
        "target:web:dev",
        [NewEvent("Target.Created", {"app": "web", "environment": "dev"})],
        expected_version=0,
        metadata=meta,
    )
    slow = await pool.acquire()
    try:
        tx = slow.transaction()
        await tx.start()
        await slow.fetch(
            "SELECT * FROM baton_append($1, $2, false, $3, $4, $5, $6::text[]::jsonb[],"
            " $7::text[]::jsonb[])",
            ["target:web:staging"],
            [0],
            [1],
            ["Target.Created"],
            [1],
            ['{"app":"web","environment":"staging"}'],
            ['{"actor":"slow"}'],
        )
        fast = asyncio.create_task(
            store.append(
                "target:web:prod",
                [NewEvent("Target.Created", {"app": "web", "environment": "prod"})],
                expected_version=0,
                metadata=meta,
            )
        )
        await asyncio.sleep(0.2)
        await runner.catch_up()
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT array_agg(position) FROM audit") == [1]
        await tx.commit()
        await asyncio.wait_for(fast, 5)
    finally:
        await pool.release(slow)
    await runner.catch_up()
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT position, environment FROM audit ORDER BY position")
    assert [(r["position"], r["environment"]) for r in rows] == [
        (1, "dev"),
        (2, "staging"),
        (3, "prod"),
    ]


class Fragile(StateProjection):
    """Fails on one kind of event until fixed."""

    broken: ClassVar[bool] = True

    async def apply(self, conn: asyncpg.Connection, events: Sequence[EventRow]) -> None:
        if self.broken and any(e["type"] == "Target.PromotionApproved" for e in events):
            raise RuntimeError("cannot read this approval")
        await super().apply(conn, events)


async def test_a_failing_projection_is_reported_and_retried_without_stopping_others(
    story: Story, pool: asyncpg.Pool
) -> None:
    runner = ProjectionRunner(
        pool, [Fragile(), AuditProjection()], batch_size=50, poll_interval=0.05, max_backoff=0.2
    )
    task = asyncio.create_task(runner.run())
    try:
        await story.walk()
        head = await story.store.head_position()
        async with pool.acquire() as conn:
            approval = await conn.fetchval(
                "SELECT position FROM events WHERE type = 'Target.PromotionApproved'"
            )

            async def statuses() -> dict[str, Any]:
                return {s.name: s for s in await projection_status(conn)}

            async with asyncio.timeout(30):
                while True:
                    s = await statuses()
                    if (
                        {"audit", "state"} <= s.keys()  # the runner creates them as it starts
                        and s["audit"].lag == 0
                        and s["state"].last_error
                        and f"position {approval} " in s["state"].last_error
                    ):
                        break
                    await asyncio.sleep(0.05)
            assert s["state"].position == approval - 1
            assert "Target.PromotionApproved" in s["state"].last_error
            assert "cannot read this approval" in s["state"].last_error
            Fragile.broken = False
            async with asyncio.timeout(30):
                while (s := await statuses())["state"].position < head:
                    await asyncio.sleep(0.05)
            assert s["state"].last_error is None
    finally:
        Fragile.broken = True
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_as_of_a_position_matches_a_replay_truncated_there(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool, store: EventStore
) -> None:
    await story.walk()
    await runner.catch_up()
    registry = default_registry()
    events = await store.read_all(limit=10_000)
    for cut in range(1, len(events) + 1, 3):
        targets: dict[str, Any] = {}
        for recorded in events[:cut]:
            if recorded.stream_id.startswith("target:"):
                event = to_domain_event(registry, recorded)
                targets[recorded.stream_id] = event.mutate(targets.get(recorded.stream_id))
        expected = {
            (t.app, t.environment): (t.desired_release, t.applied_release)
            for t in targets.values()
            if isinstance(t, Target) and (t.desired_release or t.applied_release)
        }
        async with pool.acquire() as conn:
            rows = await timetravel.state_as_of(conn, position=cut)
        got = {
            (r["app"], r["environment"]): (r["desired_release"], r["applied_release"]) for r in rows
        }
        assert got == expected, f"as of position {cut}"


class StateV2(StateProjection):
    version: ClassVar[int] = StateProjection.version + 1


async def test_a_new_projection_version_is_rebuilt_at_start_up(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    upgraded = ProjectionRunner(pool, [StateV2(), AuditProjection()])
    assert await upgraded.ensure() == ["state"]
    async with pool.acquire() as conn:
        status = {s.name: s for s in await projection_status(conn)}
        assert await conn.fetchval("SELECT count(*) FROM targets") == 3
    assert (status["state"].version, status["state"].lag) == (StateV2.version, 0)
    assert await upgraded.ensure() == []


class SlowState(StateProjection):
    gate: ClassVar[Gate | None] = None

    async def load(self, conn: asyncpg.Connection, upto: int) -> int:
        position = await super().load(conn, upto)
        if self.gate is not None:
            self.gate.entered.set()
            await self.gate.release.wait()
        return position


async def test_readers_see_the_old_model_until_the_rebuild_swaps_in(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    async with pool.acquire() as conn:
        before = await conn.fetch("SELECT * FROM targets ORDER BY environment")
    SlowState.gate = Gate()
    try:
        rebuilding = asyncio.create_task(rebuild(pool, [SlowState()], batch_size=3))
        await asyncio.wait_for(SlowState.gate.entered.wait(), 5)
        async with pool.acquire() as conn:
            during = await conn.fetch("SELECT * FROM targets ORDER BY environment")
        assert during == before
        SlowState.gate.release.set()
        await asyncio.wait_for(rebuilding, 10)
    finally:
        SlowState.gate = None
    async with pool.acquire() as conn:
        after = await conn.fetch("SELECT * FROM targets ORDER BY environment")
    assert [dict(r) for r in after] == [dict(r) for r in before]


async def test_events_appended_during_a_rebuild_are_in_the_model_it_swaps_in(
    story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    SlowState.gate = Gate()
    try:
        rebuilding = asyncio.create_task(rebuild(pool, [SlowState()], batch_size=3))
        await asyncio.wait_for(SlowState.gate.entered.wait(), 5)
        r3 = await story.release(3)
        await story.service.request("web", "dev", release=r3, metadata=EventMetadata(actor="c"))
        SlowState.gate.release.set()
        await asyncio.wait_for(rebuilding, 10)
    finally:
        SlowState.gate = None
    async with pool.acquire() as conn:
        desired = await conn.fetchval(
            "SELECT desired_release FROM targets WHERE environment = 'dev'"
        )
    assert desired == r3
    await runner.catch_up()
    assert (await verify(pool, all_projections())).ok


async def test_a_runner_applying_one_event_at_a_time_builds_what_a_rebuild_builds(
    story: Story, pool: asyncpg.Pool
) -> None:
    await story.walk()
    runner = ProjectionRunner(pool, batch_size=1)
    await runner.ensure()
    await runner.catch_up()
    report = await verify(pool, all_projections())
    assert report.ok, report.differences
