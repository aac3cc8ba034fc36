"""Borrowing a pooled connection so that a failed hand-back cannot undo finished work.

Where it sits: under the store's writes that must report what they did. When the server goes
away right after a statement committed, giving the connection back fails (its reset finds
the protocol mid-operation); that failure must not turn the committed work into an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from engine.store.errors import DATABASE_UNAVAILABLE


@contextlib.asynccontextmanager
async def held(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of `pool`; one that cannot be given back is closed instead."""
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        try:
            await pool.release(conn)
        except (*DATABASE_UNAVAILABLE, asyncpg.InterfaceError):
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()
