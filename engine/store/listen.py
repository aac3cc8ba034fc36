"""Postgres LISTEN/NOTIFY for baton's processes: one held connection per channel listened to.

Where it sits: under the event store's subscriptions (``baton_events``) and the Git
watcher's wake-ups (``engine.git.wakeups``). A notification sent while the listening
connection is down is lost; every user polls anyway, so a lost one only costs latency.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial

import asyncpg

from engine.supervisor import Supervisor

#: Postgres refuses a NOTIFY payload of 8000 bytes or more
MAX_PAYLOAD_BYTES = 7999
_ACQUIRE_TIMEOUT_S = 5.0
_PROBE_TIMEOUT_S = 5.0
_CONNECTION_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)

#: called with each notification's payload, on the event loop
OnPayload = Callable[[str], None]


class Listener:
    """A pooled connection LISTENing on one channel; hands each payload to a callback."""

    def __init__(self, pool: asyncpg.Pool, channel: str, on_payload: OnPayload) -> None:
        self._pool = pool
        self._channel = channel
        self._on_payload = on_payload
        self._conn: asyncpg.Connection | None = None

    @classmethod
    async def start(cls, pool: asyncpg.Pool, channel: str, on_payload: OnPayload) -> Listener:
        """A listener that is listening, unless the database is unreachable right now."""
        listener = cls(pool, channel, on_payload)
        await listener.ensure_listening()
        return listener

    @property
    def listening(self) -> bool:
        """True while the connection is held and not known to be lost."""
        return self._conn is not None and not _lost(self._conn)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_payload(payload)

    async def ensure_listening(self) -> None:
        """LISTEN on a new connection when there is none or it was lost; quiet on failure."""
        if self.listening:
            return
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._pool.release(conn)  # a no-op when the pool has taken it back already
        try:
            conn = await asyncio.wait_for(self._pool.acquire(), timeout=_ACQUIRE_TIMEOUT_S)
        except _CONNECTION_ERRORS:
            return  # the caller's polling covers the outage; try again at its next check
        try:
            await conn.add_listener(self._channel, self._notified)
        except BaseException as exc:
            # also on cancellation: a connection acquired here must go back to the pool
            await self._pool.release(conn)
            if isinstance(exc, _CONNECTION_ERRORS):
                return
            raise
        self._conn = conn

    async def keep_listening(self, *, every: float) -> None:
        """Until cancelled: check the connection every `every` seconds, LISTEN again if lost."""
        while True:
            await asyncio.sleep(every)
            conn = self._conn
            if conn is not None and not _lost(conn) and not await _answers(conn):
                # a connection whose peer vanished without a word: drop it for a new one
                with contextlib.suppress(asyncpg.InterfaceError):
                    conn.terminate()
            await self.ensure_listening()

    async def close(self) -> None:
        """UNLISTEN and give the connection back to the pool."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            if not _lost(conn):
                await conn.remove_listener(self._channel, self._notified)
        finally:
            await self._pool.release(conn)


def _lost(conn: asyncpg.Connection) -> bool:
    try:
        closed: bool = conn.is_closed()
    except asyncpg.InterfaceError:
        return True  # a pooled connection that died was taken back by the pool already
    return closed


async def _answers(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1", timeout=_PROBE_TIMEOUT_S)
    except _CONNECTION_ERRORS:
        return False
    return True


@contextlib.asynccontextmanager
async def listening(
    pool: asyncpg.Pool,
    channel: str,
    on_payload: OnPayload,
    *,
    supervisor: Supervisor | None = None,
    check_every: float = 5.0,
) -> AsyncIterator[Listener]:
    """LISTEN on `channel` until the block ends, re-LISTENing after a lost connection.

    The keeper that checks the connection is the task ``listen-<channel>`` of
    `supervisor` (of a supervisor of the block's own without one).
    """
    listener = await Listener.start(pool, channel, on_payload)
    tasks = Supervisor() if supervisor is None else supervisor
    name = f"listen-{channel}"
    tasks.start(name, partial(listener.keep_listening, every=check_every))
    try:
        yield listener
    finally:
        if supervisor is None:
            await tasks.stop()
        else:
            await tasks.remove(name)
        # a failed UNLISTEN still gives the connection back, and the pool resets it
        with contextlib.suppress(*_CONNECTION_ERRORS):
            await listener.close()


async def notify(pool: asyncpg.Pool, channel: str, payloads: Sequence[str]) -> None:
    """NOTIFY each payload on `channel` in one transaction; refuse all if one is too long."""
    for payload in payloads:
        size = len(payload.encode())
        if size > MAX_PAYLOAD_BYTES:
            raise ValueError(
                f"a notification on {channel!r} of {size} bytes is over Postgres's limit"
                f" of {MAX_PAYLOAD_BYTES}; nothing was sent"
            )
    if not payloads:
        return
    async with pool.acquire() as conn:
        await conn.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", channel, list(payloads)
        )
