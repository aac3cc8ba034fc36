"""`baton replay` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import pytest
from storyline import Story

from projections.runner import ProjectionRunner

pytestmark = pytest.mark.store


def baton(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        env={**os.environ, "BATON_DATABASE_URL": database_url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_replay_rebuilds_and_verify_finds_nothing_then_a_tampered_row(
    database_url: str, story: Story, runner: ProjectionRunner, pool: asyncpg.Pool
) -> None:
    await story.walk()
    await runner.catch_up()
    head = await story.store.head_position()
    rebuilt = baton(database_url, "replay")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"{head} events up to position {head}" in rebuilt.stdout
    clean = baton(database_url, "replay", "--verify")
    assert clean.returncode == 0, clean.stderr
    assert f"equal a rebuild at position {head}" in clean.stdout
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM audit WHERE position = 3")
    dirty = baton(database_url, "replay", "--verify", "--projection", "audit")
    assert dirty.returncode == 1
    assert "audit" in dirty.stderr and "rebuilt only" in dirty.stderr


def test_replay_of_an_unknown_projection_is_a_usage_error(database_url: str) -> None:
    result = baton(database_url, "replay", "--projection", "nope")
    assert result.returncode == 2
    assert "unknown projection nope" in result.stderr
