"""Durable subscriptions' rows: checkpoints, the one-consumer lock, who holds it.

Where it sits: under ``engine.subscriptions`` (the runner), which follows the log with
:meth:`EventStore.subscribe` from the checkpoint kept here (migration 013). A consumer
holds :class:`ConsumerLock` (a session advisory lock on a dedicated connection, as the
appliers' per-target locks): Postgres frees it when that session ends — the process was
killed, its connection cut — and a waiting process takes the subscription over.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.domain.ids import subscription_stream
from engine.store.locks import AdvisoryLocks, lock_key


def lock_name(name: str) -> str:
    """The advisory lock's name of subscription `name` (its stream id)."""
    return subscription_stream(name)


@dataclass(frozen=True, kw_only=True)
class Holder:
    """The process consuming a subscription now."""

    pid: int
    host: str
    since: datetime


@dataclass(frozen=True, kw_only=True)
class CheckpointRow:
    """One subscription's row, its lag and its live holder."""

    name: str
    position: int
    lag: int
    updated_at: datetime
    last_error: str | None
    error_at: datetime | None
    holder: Holder | None


class ConsumerLock:
    """The one-consumer lock of a subscription, on a connection held for it alone."""

    def __init__(self, pool: asyncpg.Pool, name: str) -> None:
        self.name = name
        self._pool = pool
        self._locks = AdvisoryLocks(pool)

    async def take(self, *, every: float) -> None:
        """Wait until this process holds the lock (trying again every `every` seconds)."""
        while True:
            if await self._locks.try_acquire([lock_name(self.name)]):
                break
            await asyncio.sleep(every)

    async def record_holder(self) -> None:
        """Write down who holds the lock (once the subscription's row exists)."""
        await _record_holder(self._pool, self.name, self._locks.backend_pid)

    async def confirm(self) -> bool:
        """True once the lock's session answered after this call began (the fence)."""
        return await self._locks.confirm()

    async def close(self) -> None:
        """Give the lock up (its connection goes back to the pool closed)."""
        await self._locks.close()


async def open_checkpoint(pool: asyncpg.Pool, name: str, *, from_head: bool) -> int:
    """The subscription's checkpoint; a new one starts at the log's head or its origin."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO subscriptions (name, position)"
            " SELECT $1, CASE WHEN $2 THEN position ELSE 0 END FROM event_head"
            " ON CONFLICT (name) DO NOTHING",
            name,
            from_head,
        )
        position: int = await conn.fetchval(
            "SELECT position FROM subscriptions WHERE name = $1", name
        )
    return position


async def save_checkpoint(pool: asyncpg.Pool, name: str, position: int) -> None:
    """Every event up to `position` was handled."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE subscriptions SET position = $2, updated_at = now() WHERE name = $1",
            name,
            position,
        )


async def checkpoint(pool: asyncpg.Pool, name: str) -> int | None:
    """The subscription's checkpoint, or None when it has never run."""
    async with pool.acquire() as conn:
        position: int | None = await conn.fetchval(
            "SELECT position FROM subscriptions WHERE name = $1", name
        )
    return position


async def record_error(pool: asyncpg.Pool, name: str, error: str) -> None:
    """The handler's last error."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE subscriptions SET last_error = $2, error_at = now() WHERE name = $1",
            name,
            error,
        )


async def _record_holder(pool: asyncpg.Pool, name: str, backend: int | None) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE subscriptions SET holder_pid = $2, holder_host = $3, holder_backend = $4,"
            " held_since = now() WHERE name = $1",
            name,
            os.getpid(),
            socket.gethostname(),
            backend,
        )


async def checkpoint_rows(pool: asyncpg.Pool) -> tuple[int, list[CheckpointRow]]:
    """The log's head and every subscription's row, by name, with its live holder."""
    async with pool.acquire() as conn:
        head: int = await conn.fetchval("SELECT position FROM event_head")
        rows = await conn.fetch("SELECT * FROM subscriptions ORDER BY name")
        # a bigint key is stored in pg_locks as two oids: high half, low half
        held = {
            (r["pid"], r["key"])
            for r in await conn.fetch(
                "SELECT pid, (classid::bigint << 32) | objid::bigint AS key FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            )
        }
    return head, [_row(r, head, held) for r in rows]


def _row(row: asyncpg.Record, head: int, held: set[tuple[int, int]]) -> CheckpointRow:
    holding = (row["holder_backend"], lock_key(lock_name(row["name"])) & 0xFFFFFFFFFFFFFFFF)
    holder = None
    if row["holder_backend"] is not None and _unsigned(held, holding):
        holder = Holder(pid=row["holder_pid"], host=row["holder_host"], since=row["held_since"])
    return CheckpointRow(
        name=row["name"],
        position=row["position"],
        lag=max(head - row["position"], 0),
        updated_at=row["updated_at"],
        last_error=row["last_error"],
        error_at=row["error_at"],
        holder=holder,
    )


def _unsigned(held: set[tuple[int, int]], wanted: tuple[int, int]) -> bool:
    return any(pid == wanted[0] and key & 0xFFFFFFFFFFFFFFFF == wanted[1] for pid, key in held)
