"""Events stored in an older shape: the store's reads and `events_current` give the current one."""

from __future__ import annotations

import asyncpg
import pytest

from engine.domain.vocabulary import EventType
from engine.repository import default_registry
from engine.store import EventMetadata, EventStore, NewEvent, upcasts
from engine.store.upcasts import fill, fill_range

pytestmark = pytest.mark.store
META = EventMetadata(actor="alice")
AT = "2026-01-01T00:00:00+00:00"
V1 = NewEvent(EventType.PROMOTION_APPROVED, {"promotion_id": "p1", "approver": "bob", "at": AT}, 1)
V2 = {"promotion_id": "p1", "by": "bob", "comment": "", "at": AT}


async def test_the_store_reads_an_older_event_in_its_current_shape(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await store.append("target:web:prod", [V1], expected_version=0, metadata=META)
    (read,) = await EventStore(pool, upcaster=default_registry()).read_all()
    assert (read.schema_version, read.data) == (2, V2)
    (stored,) = await EventStore(pool).read_all()  # without an upcaster: as written
    assert (stored.schema_version, stored.data) == (1, V1.data)


async def test_the_log_is_searched_once_and_sql_readers_see_the_current_shape(
    store: EventStore, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upcasts, "_BATCH", 1)  # stored as the search goes, as on a long log
    other = NewEvent(EventType.TARGET_CREATED, {"app": "web", "environment": "prod"})
    await store.append("target:web:prod", [other, V1, V1], expected_version=0, metadata=META)
    registry = default_registry()
    async with pool.acquire() as conn:
        assert not await fill_range(conn, registry, after=0, upto=1)  # none there: `events`
        assert await fill(conn, registry) == 2
        assert await fill(conn, registry) == 0  # searched up to the head already
        assert await fill_range(conn, registry, after=0, upto=2)
        rows = await conn.fetch("SELECT schema_version, data FROM events_current ORDER BY position")
        assert [(r["schema_version"], r["data"]) for r in rows] == [
            (1, other.data),
            (2, V2),
            (2, V2),
        ]
        # the log itself keeps what was written
        assert await conn.fetchval("SELECT data FROM events WHERE position = 2") == V1.data
    await store.append("target:web:prod", [V1], expected_version=3, metadata=META)
    async with pool.acquire() as conn:
        # an event appended in an older shape since: the feed's range upcasts it
        assert await fill_range(conn, registry, after=3, upto=4)
        assert await conn.fetchval("SELECT data FROM events_current WHERE position = 4") == V2
