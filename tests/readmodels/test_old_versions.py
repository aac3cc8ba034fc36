"""Events written in an older shape read as the current one, by every reader of the log.

One history is played through the API as baton writes it today. Its log is then copied,
row for row (same positions, times, metadata; the hash chain recomputed), into a second
database as an older baton would have written it: every event of one versioned type in
that type's older shape. A second API runs on the copy; what a user sees through both
(read-model rows, the API's JSON, the audit's sentences, time travel, the live tail, the
aggregates, a rebuild and `replay --verify`) must be the same.

Every (type, older version) the registry has is covered: a new `class_version` fails
`test_every_older_version_has_its_shape_here` until its shape is added to DOWNCASTS.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import count
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from engine.domain.target import Target
from engine.domain.vocabulary import EventType
from engine.repository import default_registry
from engine.settings import Settings
from engine.store.audit import verify_chain
from engine.store.database import with_database
from projections.catalog import all_projections
from projections.rebuild import rebuild, verify
from tests.api.conftest import SHA1, Api, api_config, seed

pytestmark = pytest.mark.store
Doc = dict[str, Any]

#: each older shape of a versioned event, from the shape one version later: what the code
#: of that version wrote (only what the history below can say in it)
DOWNCASTS: dict[tuple[str, int], Callable[[Doc], Doc]] = {
    (EventType.PROMOTION_APPROVED, 1): lambda d: {
        **{k: v for k, v in d.items() if k not in ("by", "comment")},
        "approver": d["by"],
    },
}
VERSIONED = [
    (name, version)
    for name, current in sorted(default_registry().current_versions().items())
    for version in range(1, current)
]
#: the read models' tables, each in a full order
TABLES = {
    "targets": "app, environment",
    "promotions": "id",
    "releases": "app, sha",
    "release_environments": "app, sha, environment",
    "target_history": "app, environment, from_position",
    "target_history_open": "app, environment",
    "target_history_epochs": "epoch, from_position",
    "audit": "position",
}
_names = count()


def test_every_older_version_has_its_shape_here() -> None:
    missing = [
        f"{name} v{version}" for name, version in VERSIONED if (name, version) not in DOWNCASTS
    ]
    assert not missing, f"add the older shape of {', '.join(missing)} to DOWNCASTS"
    assert VERSIONED, "no event type is past version 1: this test proves nothing yet"


@pytest.fixture
async def older_database_url(pg_admin_url: str, template_database: str) -> AsyncIterator[str]:
    """A second migrated database of this test's own, for the log in its older shape."""
    name = f"baton_test_{os.getpid()}_older_{next(_names)}"
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield with_database(pg_admin_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def running_api(database_url: str, home: Path) -> AsyncIterator[Api]:
    """The real API on `database_url`, running its projections."""
    settings = Settings(
        database_url=database_url, home=home / "home", environments_dir=home / "environments"
    )
    async with TestClient(TestServer(init_app(settings=settings, config=api_config()))) as client:
        yield Api(client)


def pool_of(api: Api) -> asyncpg.Pool:
    return api.promotions.repository.store.pool


async def play_history(api: Api) -> str:
    """SHA1 through dev and staging into prod, where it needs (and gets) an approval."""
    await seed(api.promotions)
    for env in ("dev", "staging"):
        assert (await api.promote(env)).status == 202
        await api.verify_in(env, SHA1)
    promotion = await (await api.promote("prod", as_="release-manager")).json()
    approved = await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")
    assert approved.status == 200, await approved.text()
    await api.verify_in("prod", SHA1)
    await api.caught_up()
    return str(promotion["id"])


def older(name: str, version: int, stored: int, data: Doc) -> Doc:
    """`data` of an event stored at version `stored`, in its shape at `version`."""
    for at in range(stored - 1, version - 1, -1):
        data = DOWNCASTS[(name, at)](data)
    return data


async def copy_log(
    rows: list[asyncpg.Record], target: asyncpg.Pool, name: str, version: int
) -> int:
    """Write the log's `rows` into `target`, each `name` event in its shape at `version`, as
    the code of that version wrote it; returns how many."""
    last, converted = bytes(32), 0
    async with target.acquire() as conn, conn.transaction():
        assert await conn.fetchval("SELECT position FROM event_head") == 0
        for row in rows:
            schema, data = row["schema_version"], row["data"]
            if row["type"] == name:
                data, schema = older(name, version, schema, data), version
                converted += 1
            values = (row["position"], row["stream_id"], row["stream_version"], row["type"],
                      schema, data, row["metadata"], row["recorded_at"])  # fmt: skip
            last = await conn.fetchval(
                "SELECT baton_event_hash($1, $2, $3, $4, $5, $6, $7, $8, $9)", last, *values
            )
            await conn.execute("INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                               *values, last)  # fmt: skip
        await conn.execute(
            "UPDATE event_head SET position = $1, hash = $2", rows[-1]["position"], last
        )
        await conn.execute("NOTIFY baton_events")
    return converted


async def tables(pool: asyncpg.Pool) -> dict[str, list[Doc]]:
    async with pool.acquire() as conn:
        return {
            table: [dict(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
            for table, order in TABLES.items()
        }


async def tail(api: Api, events: int) -> list[Doc]:
    """The first `events` messages of the live tail from the start of the log."""
    response = await api.get("/events/stream?after=0")
    messages: list[Doc] = []
    async with asyncio.timeout(10):
        while len(messages) < events:
            line = (await response.content.readline()).decode()
            if line.startswith("data: "):
                messages.append(json.loads(line[6:]))
    response.close()
    return messages


async def seen_by_users(api: Api, promotion_id: str, head: int) -> dict[str, Any]:
    """What the API answers, and what the store and the aggregates read."""
    paths = [
        "/apps",
        "/apps/web",
        "/apps/web/releases",
        f"/apps/web/releases/{SHA1}",
        f"/promotions/{promotion_id}",
        "/events?limit=500",
        "/events?type=PromotionApproved",
        "/events?actor=approver",
        f"/state/diff?from=1&to={head}",
        *(f"/state?as_of={position}" for position in range(1, head + 1)),
    ]
    seen: dict[str, Any] = {}
    for path in paths:
        response = await api.get(path)
        assert response.status == 200, (path, await response.text())
        seen[path] = await response.json()
    seen["tail"] = await tail(api, head)
    store = api.promotions.repository.store
    seen["store"] = [(e.position, e.type, e.schema_version, e.data) for e in await store.read_all()]
    prod = await api.promotions.repository.get(Target, "target:web:prod")
    assert prod.promotion is not None
    seen["approvals"] = prod.promotion.approvals
    return seen


@pytest.mark.parametrize(("name", "version"), VERSIONED)
async def test_events_in_an_older_shape_read_as_the_current_one_everywhere(
    name: str, version: int, database_url: str, older_database_url: str, tmp_path: Path
) -> None:
    async with running_api(database_url, tmp_path / "current") as current:
        promotion_id = await play_history(current)
        head = await current.promotions.repository.store.head_position()
        expected = await seen_by_users(current, promotion_id, head)
        expected_tables = await tables(pool_of(current))
        log = await pool_of(current).fetch("SELECT * FROM events ORDER BY position")
    (prod,) = [p for p in expected_tables["promotions"] if p["environment"] == "prod"]
    assert [a["by"] for a in prod["approvals"]] == ["approver"]

    async with running_api(older_database_url, tmp_path / "older") as old:
        pool = pool_of(old)
        # its projections are running: they meet the older events as they arrive
        converted = await copy_log(log, pool, name, version)
        assert converted, f"the history has no {name} event: make it record one"
        async with pool.acquire() as conn:
            assert (await verify_chain(conn)).ok
            stored = await conn.fetchval(
                "SELECT count(*) FROM events WHERE type = $1 AND schema_version = $2",
                name,
                version,
            )
        assert stored == converted  # the log keeps the shape it was written in
        await old.caught_up()
        assert await tables(pool) == expected_tables
        assert await seen_by_users(old, promotion_id, head) == expected

        report = await verify(pool, all_projections())
        assert report.ok, report.differences
        await rebuild(pool, all_projections())  # the set-wise load reads them too
        assert await tables(pool) == expected_tables
