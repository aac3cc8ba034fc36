"""Fixtures of the service tests: a site (database, Git repo, config) for real processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.baton_process import Site, kill_leftovers


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> Site:
    """A sample repo with one release and the environment a baton process runs in."""
    return await asyncio.to_thread(Site.create, tmp_path, database_url)


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    """A test that fails half-way leaves no baton running (it would hold ports and CPU)."""
    yield
    kill_leftovers()
