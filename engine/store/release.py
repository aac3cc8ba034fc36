"""Giving a held connection back to its pool, whatever state it is in."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg


async def give_back(pool: asyncpg.Pool, conn: asyncpg.Connection, *, within: float) -> None:
    """Release `conn` to `pool`; one that cannot be released cleanly (its server gone, a
    query still under way on it) is terminated, and the pool opens a new one in its place."""
    try:
        await asyncio.wait_for(pool.release(conn), timeout=within)
    except Exception:
        # a release that failed may have handed the connection back already
        with contextlib.suppress(asyncpg.InterfaceError):
            conn.terminate()
