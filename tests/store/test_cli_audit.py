"""`baton migrate` and `baton audit verify` as a user runs them: a process, an exit code."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import pytest

from engine.store import EventMetadata, EventStore, NewEvent

pytestmark = pytest.mark.store


def baton(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BATON_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_migrate_then_verify_a_clean_log(empty_database_url: str) -> None:
    first = baton(empty_database_url, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied 001_events.sql" in first.stdout
    again = baton(empty_database_url, "migrate")
    assert "database is up to date" in again.stdout
    verified = baton(empty_database_url, "audit", "verify")
    assert verified.returncode == 0
    assert "hash chain intact: 0 events" in verified.stdout


async def test_audit_verify_exits_1_and_names_the_tampered_position(
    database_url: str, store: EventStore, pool: asyncpg.Pool
) -> None:
    for i in range(3):
        await store.append(
            f"s{i}", [NewEvent("A", {})], expected_version=0, metadata=EventMetadata(actor="t")
        )
    async with pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            'UPDATE events SET metadata = \'{"actor": "mallory"}\' WHERE position = 2'
        )
    result = baton(database_url, "audit", "verify")
    assert result.returncode == 1
    assert "hash chain broken at position 2" in result.stderr
