"""Durable subscriptions survive real faults: a consumer killed with SIGKILL, a second
process waiting for the lock, connections ended by the server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine.store import EventStore
from engine.store.subscriptions import checkpoint, checkpoint_rows
from tests.subscriptions.conftest import Subscribers, append, delivered


async def eventually(check: Callable[[], object], *, within: float = 30.0) -> None:
    """Wait until the async `check()` is true."""
    async with asyncio.timeout(within):
        while not await check():  # type: ignore[misc]
            await asyncio.sleep(0.1)


def assert_every_position_once_or_more_in_order(rows: list[tuple[int, int]], head: int) -> None:
    assert {p for _, p in rows} == set(range(1, head + 1))
    for pid in {pid for pid, _ in rows}:
        mine = [p for q, p in rows if q == pid]
        assert mine == sorted(mine) and len(mine) == len(set(mine)), pid


async def test_a_subscriber_killed_mid_stream_resumes_from_its_checkpoint(
    store: EventStore, database_url: str, subscribers: Subscribers
) -> None:
    head = await append(store, 300)
    first = subscribers.start("killed")

    async def half_way() -> bool:
        return len(await delivered(database_url)) >= 100

    await eventually(half_way)
    subscribers.kill(first)
    at_kill = await delivered(database_url)
    saved = await checkpoint(store.pool, "killed")
    assert saved is not None and 0 < saved <= at_kill[-1][1] < head

    second = subscribers.start("killed")

    async def all_of_it() -> bool:
        return max((p for _, p in await delivered(database_url)), default=0) == head

    await eventually(all_of_it)
    rows = await delivered(database_url)
    assert_every_position_once_or_more_in_order(rows, head)
    resumed = [p for pid, p in rows if pid == second.pid]
    assert resumed[0] == saved + 1  # from the checkpoint: nothing skipped, little again


async def test_of_two_processes_one_consumes_and_the_other_takes_over_when_it_dies(
    store: EventStore, database_url: str, subscribers: Subscribers
) -> None:
    await append(store, 100)
    a = subscribers.start("shared")

    async def a_consumes() -> bool:
        return len(await delivered(database_url)) >= 20

    await eventually(a_consumes)
    b = subscribers.start("shared")
    await asyncio.sleep(2)  # b is up, waiting for the lock
    assert {pid for pid, _ in await delivered(database_url)} == {a.pid}
    _, (row,) = await checkpoint_rows(store.pool)
    assert row.holder is not None and row.holder.pid == a.pid

    subscribers.kill(a)
    killed_at = len(await delivered(database_url))
    head = await append(store, 100)

    async def b_finished() -> bool:
        return max((p for _, p in await delivered(database_url)), default=0) == head

    await eventually(b_finished, within=15)
    rows = await delivered(database_url)
    assert {pid for pid, _ in rows[killed_at:]} == {b.pid}
    assert_every_position_once_or_more_in_order(rows, head)
    _, (row,) = await checkpoint_rows(store.pool)
    assert row.holder is not None and row.holder.pid == b.pid


async def test_a_subscriber_whose_connections_are_ended_by_the_server_resumes_by_itself(
    store: EventStore, database_url: str, subscribers: Subscribers
) -> None:
    head = await append(store, 50)
    subscriber = subscribers.start("cut")

    async def caught_up() -> bool:
        return max((p for _, p in await delivered(database_url)), default=0) == head

    await eventually(caught_up)
    async with store.pool.acquire() as conn:
        ended = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert ended >= 2  # its lock, its listener, its pool's
    await store.pool.expire_connections()
    head = await append(store, 50)
    await eventually(caught_up)
    rows = await delivered(database_url)
    assert_every_position_once_or_more_in_order(rows, head)
    assert subscriber.poll() is None
