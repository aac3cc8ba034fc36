"""Per-target advisory locks: which baton process works on which target.

Where it sits: under the appliers' service. One dedicated connection holds a session
advisory lock per target it owns; Postgres releases them all when that connection ends,
so a process that loses its connection loses its targets, and :meth:`check` tells it so
(it then stops working on them and tries to win them back on a new connection).
Workers ask :meth:`confirm` right before each batch of writes (the appliers' fence).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Iterable

import asyncpg

from engine.store.release import give_back

_TIMEOUT = 5.0


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (blake2b of the name)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


class AdvisoryLocks:
    """Session advisory locks on one held connection."""

    def __init__(self, pool: asyncpg.Pool, *, timeout: float = _TIMEOUT) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None
        self._held: set[str] = set()
        self._mutex = asyncio.Lock()
        self._checked_at = 0.0
        self._lost = False  # a failed check not yet reported by check()
        # confirm(): when the last successful ping was asked for, and the ping under way
        self._confirmed_at = -math.inf
        self._ping: tuple[float, asyncio.Task[bool]] | None = None

    def holds(self, name: str) -> bool:
        """True while this process holds the lock `name`."""
        return name in self._held

    @property
    def held(self) -> frozenset[str]:
        """Every lock held."""
        return frozenset(self._held)

    async def try_acquire(self, names: Iterable[str]) -> set[str]:
        """Take every free lock of `names` in one statement; returns the ones won."""
        wanted = [n for n in names if n not in self._held]
        if not wanted:
            return set()
        keys = {lock_key(n): n for n in wanted}
        async with self._mutex:
            conn = await self._connection()
            rows = await conn.fetch(
                "SELECT k FROM unnest($1::bigint[]) AS k WHERE pg_try_advisory_lock(k)",
                list(keys),
                timeout=self._timeout,
            )
        won = {keys[r["k"]] for r in rows}
        self._held |= won
        return won

    async def release(self, names: Iterable[str]) -> None:
        """Give up locks (others may take them)."""
        mine = [n for n in names if n in self._held]
        if not mine or self._conn is None:
            return
        async with self._mutex:
            await self._conn.execute(
                "SELECT pg_advisory_unlock(k) FROM unnest($1::bigint[]) AS k",
                [lock_key(n) for n in mine],
                timeout=self._timeout,
            )
        self._held -= set(mine)

    async def check(self, *, max_age: float = 0.0) -> bool:
        """True while the lock connection is alive; on failure every lock counts as lost.

        A check that succeeded less than `max_age` seconds ago is taken as the answer.
        """
        if self._lost:
            self._lost = False
            return False
        if self._conn is None:
            return not self._held
        loop = asyncio.get_running_loop()
        if max_age > 0 and loop.time() - self._checked_at < max_age:
            return True
        try:
            async with self._mutex:
                await self._conn.fetchval("SELECT 1", timeout=self._timeout)
            self._checked_at = loop.time()
            return True
        except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError):
            await self._drop()
            return False if max_age == 0 else self._report_later()

    async def confirm(self) -> bool:
        """True once the lock connection has answered a query sent after this call began.

        A session advisory lock lasts as long as its session, so an answer on that session
        proves that every lock it holds was held when the server ran the query; another
        process can win one of them only later. Concurrent callers share one round trip
        (a ping asked for after the call began counts). A failure counts every lock as
        lost, and the service's next :meth:`check` says so.
        """
        loop = asyncio.get_running_loop()
        since = loop.time()
        while True:
            if self._lost or self._conn is None:
                return False
            if self._confirmed_at >= since:
                return True
            if self._ping is None or self._ping[1].done():
                self._ping = (loop.time(), asyncio.create_task(self._pinged(self._conn)))
            asked, ping = self._ping
            alive = await asyncio.shield(ping)
            if asked >= since or not alive:
                return alive

    async def _pinged(self, conn: asyncpg.Connection) -> bool:
        asked = asyncio.get_running_loop().time()
        try:
            async with self._mutex:
                await conn.fetchval("SELECT 1", timeout=self._timeout)
        except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError):
            if conn is self._conn:
                await self._drop()
                self._lost = True
            return False
        if conn is self._conn:
            self._confirmed_at = max(self._confirmed_at, asked)
        return True

    def _report_later(self) -> bool:
        """A check on a worker's behalf found the loss: the service's next check says so."""
        self._lost = True
        return False

    async def close(self) -> None:
        """Release every lock by giving the connection back closed."""
        await self._drop()

    @property
    def backend_pid(self) -> int | None:
        """The server process id of the lock connection (tests end it to simulate loss)."""
        return self._conn.get_server_pid() if self._conn is not None else None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._held.clear()
            self._confirmed_at = -math.inf
            self._conn = await asyncio.wait_for(self._pool.acquire(), timeout=self._timeout)
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        self._confirmed_at = -math.inf
        if conn is None:
            return
        await give_back(self._pool, conn, within=self._timeout)
