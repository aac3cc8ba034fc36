"""How the API answers when the database, not the request, is the trouble."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.errors import problem_middleware

pytestmark = pytest.mark.store


@pytest.fixture
async def one_slot_url(database_url: str) -> AsyncIterator[str]:
    """The test database as a role allowed one connection at a time."""
    role = f"baton_one_slot_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'one-slot' CONNECTION LIMIT 1")
    parts = urlsplit(database_url)
    host = parts.netloc.rpartition("@")[2]
    yield urlunsplit(parts._replace(netloc=f"{role}:one-slot@{host}"))
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
    )
    await admin.execute(f"DROP ROLE {role}")
    await admin.close()


async def test_a_database_out_of_connections_is_a_503_to_retry(one_slot_url: str) -> None:
    held = await asyncpg.connect(one_slot_url)  # the role's only slot

    async def handler(request: web.Request) -> web.Response:
        conn = await asyncpg.connect(one_slot_url)  # refused by the server: no slot left
        await conn.close()
        return web.json_response({})

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/apps", handler)
    try:
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/apps")
            body = await response.json(content_type=None)
    finally:
        await held.close()
    assert response.status == 503, body
    assert response.content_type == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert body["type"] == "urn:baton:problem:database-unavailable"
    assert body["detail"] == "TooManyConnectionsError"
