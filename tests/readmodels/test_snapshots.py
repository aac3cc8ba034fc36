"""Aggregate snapshots: a load with a cold cache starts from one, and gets what a replay gets."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from eventsourcing.domain import Aggregate
from storyline import Story

from engine.domain.app import App
from engine.domain.target import Target
from engine.repository import Repository
from engine.store import EventMetadata, EventStore

pytestmark = pytest.mark.store
NEVER = 10**9  # snapshot_every for a repository that takes none


async def states(store: EventStore, streams: list[str], **options: Any) -> dict[str, Any]:
    """Each stream's aggregate state, loaded by a repository with a cold cache."""
    repository = Repository(store, **options)
    loaded: dict[str, Any] = {}
    for stream in streams:
        cls: type[Aggregate] = App if stream.startswith("app:") else Target
        loaded[stream] = vars(await repository.get(cls, stream))
    return loaded


async def streams_of(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r[0] for r in await conn.fetch("SELECT DISTINCT stream_id FROM events ORDER BY 1")]


@pytest.fixture
async def snapshotted(
    story: Story, store: EventStore, pool: asyncpg.Pool
) -> tuple[list[str], dict[str, Any]]:
    """The storyline walked; its streams, their states by replay, and a snapshot of each."""
    await story.walk()
    streams = await streams_of(pool)
    replayed = await states(store, streams, snapshot_every=NEVER)
    await states(store, streams, snapshot_every=1)
    return streams, replayed


async def test_a_cold_load_starts_from_the_snapshot_and_equals_a_replay(
    snapshotted: tuple[list[str], dict[str, Any]], store: EventStore, pool: asyncpg.Pool
) -> None:
    streams, replayed = snapshotted
    async with pool.acquire() as conn:
        kept = dict(await conn.fetch("SELECT stream_id, version FROM snapshots"))
        heads = dict(
            await conn.fetch("SELECT stream_id, max(stream_version) FROM events GROUP BY 1")
        )
    assert kept == heads
    assert await states(store, streams, snapshot_every=NEVER) == replayed

    # the load really starts there: what the snapshot says is what it gets
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE snapshots SET state = jsonb_set(state, '{desired_number}', '99')"
            " WHERE stream_id = 'target:web:dev'"
        )
    assert (await states(store, ["target:web:dev"]))["target:web:dev"]["desired_number"] == 99


async def test_events_after_the_snapshot_are_applied_on_top_of_it(
    snapshotted: tuple[list[str], dict[str, Any]],
    story: Story,
    store: EventStore,
    pool: asyncpg.Pool,
) -> None:
    r3 = await story.release(3)
    await story.service.request("web", "dev", release=r3, metadata=EventMetadata(actor="carol"))
    await story.settle("dev")
    streams = await streams_of(pool)
    from_snapshots = await states(store, streams, snapshot_every=NEVER)
    async with pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT version FROM snapshots WHERE stream_id = 'target:web:dev'"
        ) < await conn.fetchval(
            "SELECT max(stream_version) FROM events WHERE stream_id = 'target:web:dev'"
        )
        await conn.execute("DELETE FROM snapshots")
    assert await states(store, streams, snapshot_every=NEVER) == from_snapshots


async def test_a_snapshot_of_other_code_or_unreadable_is_ignored(
    snapshotted: tuple[list[str], dict[str, Any]], store: EventStore, pool: asyncpg.Pool
) -> None:
    streams, replayed = snapshotted
    async with pool.acquire() as conn:
        # another code version's snapshot, and one naming a type this code does not build
        await conn.execute(
            "UPDATE snapshots SET state = jsonb_set(state, '{desired_number}', '99'),"
            " code = 'other' WHERE stream_id = 'target:web:dev'"
        )
        await conn.execute(
            "UPDATE snapshots SET state = jsonb_set(state, '{promotion}',"
            ' \'{"$dataclass": "os.system", "fields": {}}\')'
            " WHERE stream_id = 'target:web:prod'"
        )
    assert await states(store, streams, snapshot_every=NEVER) == replayed
