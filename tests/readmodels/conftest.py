"""Fixtures for the read-model tests: a projection runner on the test database, a story."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from storyline import Story

from engine.store import EventStore
from projections.runner import ProjectionRunner


@pytest.fixture
def story(store: EventStore) -> Story:
    return Story(store)


@pytest.fixture
async def runner(pool: asyncpg.Pool) -> AsyncIterator[ProjectionRunner]:
    runner = ProjectionRunner(pool, batch_size=7, poll_interval=0.05)
    await runner.ensure()
    yield runner
