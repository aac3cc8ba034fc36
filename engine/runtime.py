"""Opening baton's database for a process: resolve the URL, pool, migrate, close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from engine.settings import Settings
from engine.store import EventStore
from engine.store.database import create_pool, resolve_url
from engine.store.migrate import migrate


@dataclass(frozen=True)
class Database:
    """An open database: its URL (without secrets in logs), pool and event store."""

    url: str
    store: EventStore


@asynccontextmanager
async def open_database(
    settings: Settings, *, apply_migrations: bool = True, max_size: int = 10
) -> AsyncIterator[Database]:
    """Connect (starting the embedded server when no URL is set) and migrate."""
    url = await resolve_url(settings.database_url, settings.home)
    pool = await create_pool(url, max_size=max_size)
    try:
        if apply_migrations:
            async with pool.acquire() as conn:
                await migrate(conn)
        store = EventStore(pool)
        try:
            yield Database(url=url, store=store)
        finally:
            await store.close()
    finally:
        await pool.close()
