"""Opening baton's database for a process: resolve the URL, pool, migrate, close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from engine.repository import default_registry
from engine.settings import Settings
from engine.store import EventStore
from engine.store.database import connect_error, create_pool, describe_url, resolve_url
from engine.store.migrate import check_migrated, migrate

log = logging.getLogger(__name__)
#: how long the pool's close waits for connections still in use before it cuts them
_CLOSE_S = 5.0


@dataclass(frozen=True)
class Database:
    """An open database: its URL (without secrets in logs), pool and event store."""

    url: str
    store: EventStore


@asynccontextmanager
async def open_database(
    settings: Settings,
    *,
    apply_migrations: bool = True,
    require_migrated: bool = False,
    max_size: int = 10,
) -> AsyncIterator[Database]:
    """Connect (starting the embedded server when no URL is set) and migrate.

    A failure to connect raises a `DatabaseConnectError` saying where and what to do.
    `require_migrated`: migrate nothing, and raise `SchemaMissing` (creating nothing) when
    the database lacks migrations; only `baton migrate` and `baton serve` create tables.
    """
    url = await resolve_url(settings.database_url, settings.home)
    try:
        pool = await create_pool(url, max_size=max_size)
    except Exception as exc:
        failure = connect_error(exc, url)
        if failure is None:
            raise
        raise failure from exc
    try:
        if require_migrated:
            async with pool.acquire() as conn:
                await check_migrated(conn, describe_url(url))
        elif apply_migrations:
            async with pool.acquire() as conn:
                await migrate(conn)
        store = EventStore(pool, upcaster=default_registry())
        try:
            yield Database(url=url, store=store)
        finally:
            await store.close()
    finally:
        # every part has stopped by now: a connection still out is a leak, and waiting
        # for it would keep a stopping process alive for ever (a cancelled close
        # terminates the pool)
        try:
            await asyncio.wait_for(pool.close(), _CLOSE_S)
        except TimeoutError:
            log.warning("database: connections still in use %.0fs into the close; cut", _CLOSE_S)
