"""LISTEN/NOTIFY between processes: payloads arrive, survive a lost connection, never vanish."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engine.store.database import create_pool
from engine.store.listen import MAX_PAYLOAD_BYTES, listening, notify

CHANNEL = "baton_test_channel"


async def _next(received: asyncio.Queue[str]) -> str:
    async with asyncio.timeout(10):
        return await received.get()


async def test_each_payload_notified_on_the_channel_reaches_the_listener(
    pool: asyncpg.Pool,
) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()
    async with listening(pool, CHANNEL, received.put_nowait):
        await notify(pool, "another_channel", ["not for us"])
        await notify(pool, CHANNEL, ["web", "api", "x" * MAX_PAYLOAD_BYTES])
        assert {await _next(received) for _ in range(3)} == {"web", "api", "x" * MAX_PAYLOAD_BYTES}
        assert received.empty()


async def test_a_payload_over_the_limit_is_refused_and_nothing_is_sent(
    pool: asyncpg.Pool,
) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()
    async with listening(pool, CHANNEL, received.put_nowait):
        with pytest.raises(ValueError, match="nothing was sent"):
            await notify(pool, CHANNEL, ["web", "é" * 4000])
        await notify(pool, CHANNEL, ["after"])
        # notifications arrive in order: "web" would have come first
        assert await _next(received) == "after"


async def test_the_listener_listens_again_after_its_connection_is_killed(
    database_url: str, pool: asyncpg.Pool
) -> None:
    own = await create_pool(database_url, min_size=1, max_size=1)
    received: asyncio.Queue[str] = asyncio.Queue()
    try:
        async with listening(own, CHANNEL, received.put_nowait, check_every=0.1) as listener:
            # the listener's is the only other connection to this test's database
            killed = await pool.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert killed >= 1
            async with asyncio.timeout(10):
                while not received.qsize():
                    await notify(pool, CHANNEL, ["after the outage"])
                    await asyncio.sleep(0.05)
            assert await received.get() == "after the outage"
            assert listener.listening
    finally:
        await own.close()


async def test_closing_gives_the_listening_connection_back_to_the_pool(database_url: str) -> None:
    own = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with listening(own, CHANNEL, lambda _payload: None):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(own.acquire(), timeout=0.2)
        async with asyncio.timeout(2), own.acquire() as conn:
            # given back without the LISTEN: a later user of it is not notified
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
    finally:
        await own.close()
