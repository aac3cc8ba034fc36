"""The log's guarantees: no reader passes an open writer, rows never change, tampering shows."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engine.store import EventMetadata, EventStore, NewEvent
from engine.store.audit import verify_chain

pytestmark = pytest.mark.store

META = EventMetadata(actor="tester")
APPEND_SQL = (
    "SELECT * FROM baton_append($1, $2, false, $3, $4, $5, $6::text[]::jsonb[],"
    " $7::text[]::jsonb[])"
)


async def test_a_follower_never_skips_a_writer_that_commits_late(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await store.append("before", [NewEvent("A", {})], expected_version=0, metadata=META)
    seen: list[int] = []

    async def follow() -> None:
        async with store.subscribe(after=0, poll_interval=0.05) as batches:
            async for batch in batches:
                seen.extend(e.position for e in batch)
                if len(seen) >= 3:
                    return

    follower = asyncio.create_task(follow())
    slow = await pool.acquire()
    try:
        # A writer takes position 2 and holds its transaction open.
        slow_tx = slow.transaction()
        await slow_tx.start()
        await slow.fetch(
            APPEND_SQL, ["slow"], [0], [1], ["Slow"], [1], ["{}"], ['{"actor":"slow"}']
        )
        # A second writer commits while the first is still open.
        fast = asyncio.create_task(
            store.append("fast", [NewEvent("Fast", {})], expected_version=0, metadata=META)
        )
        await asyncio.sleep(0.3)
        assert seen == [1], "no reader may pass the open writer"
        assert not fast.done(), "the later writer waits for the earlier one to commit"
        await slow_tx.commit()
        await asyncio.wait_for(fast, timeout=5)
        await asyncio.wait_for(follower, timeout=5)
    finally:
        await pool.release(slow)
    assert seen == [1, 2, 3]
    events = await store.read_all()
    assert [(e.position, e.stream_id) for e in events] == [(1, "before"), (2, "slow"), (3, "fast")]


async def test_subscription_wakes_on_notify_without_waiting_for_the_poll(
    store: EventStore,
) -> None:
    received = asyncio.Event()

    async def follow() -> None:
        async with store.subscribe(after=0, poll_interval=30) as batches:
            async for _batch in batches:
                received.set()
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    await store.append("n", [NewEvent("A", {})], expected_version=0, metadata=META)
    await asyncio.wait_for(received.wait(), timeout=2)
    await task


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET data = '{\"forged\": true}' WHERE position = 1",
        "DELETE FROM events WHERE position = 1",
        "TRUNCATE events",
    ],
)
async def test_the_database_refuses_to_change_or_remove_events(
    store: EventStore, pool: asyncpg.Pool, statement: str
) -> None:
    await store.append("s", [NewEvent("A", {"v": 1})], expected_version=0, metadata=META)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute(statement)
    (event,) = await store.read_all()
    assert event.data == {"v": 1}


async def test_audit_verify_names_the_first_tampered_position(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    for i in range(5):
        await store.append(f"s{i}", [NewEvent("A", {"v": i})], expected_version=0, metadata=META)
    async with pool.acquire() as conn:
        clean = await verify_chain(conn, chunk=2)
        assert clean.ok and clean.checked == 5
        # A superuser who switches the triggers off can still edit a row...
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("UPDATE events SET data = '{\"v\": 99}' WHERE position = 3")
        await conn.execute("SET session_replication_role = DEFAULT")
        report = await verify_chain(conn, chunk=2)
    # ...but the chain names where.
    assert not report.ok
    assert report.broken_at == 3
    assert report.reason == "hash does not match"


async def test_audit_verify_names_a_deleted_position(store: EventStore, pool: asyncpg.Pool) -> None:
    for i in range(4):
        await store.append(f"s{i}", [NewEvent("A", {})], expected_version=0, metadata=META)
    async with pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("DELETE FROM events WHERE position = 2")
        report = await verify_chain(conn)
    assert (report.broken_at, report.reason) == (2, "event is missing")


async def test_a_follower_that_fails_gives_its_listen_connection_back_at_once(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await store.append("f", [NewEvent("A", {})], expected_version=0, metadata=META)
    out_before = pool.get_size() - pool.get_idle_size()
    with pytest.raises(LookupError):
        async with store.subscribe(after=0, poll_interval=30) as batches:
            async for _batch in batches:
                assert pool.get_size() - pool.get_idle_size() == out_before + 1
                raise LookupError("the follower's own fault")
    # a connection left out until the garbage collector runs holds a stopping baton open
    assert pool.get_size() - pool.get_idle_size() == out_before
