"""The benchmark's generated log is a log the domain and the projections can read."""

from __future__ import annotations

import asyncpg
import pytest

from bench._events import Generator, load
from engine.domain.app import App
from engine.domain.target import Target
from engine.repository import Repository
from engine.store import EventStore
from projections.catalog import all_projections
from projections.rebuild import verify
from projections.runner import ProjectionRunner

pytestmark = pytest.mark.store


async def test_generated_events_load_into_aggregates_and_projections(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    async with pool.acquire() as conn:
        count = await load(conn, Generator(apps=5).events(600), group=97)
    assert count >= 600
    repository = Repository(store)
    app = await repository.get(App, "app:app-0001")
    assert app.releases
    target = await repository.get(Target, "target:app-0001:dev")
    assert target.verified, "releases were verified in dev"
    runner = ProjectionRunner(pool, batch_size=100)
    await runner.ensure()
    await runner.catch_up()
    assert (await verify(pool, all_projections())).ok
