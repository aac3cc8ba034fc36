"""`baton migrate`, `audit verify` and `replay` as a user runs them: a process, an exit
code; only `migrate` creates baton's tables."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncpg
import pytest

from engine.store import EventMetadata, EventStore, NewEvent
from engine.store.database import database_name
from tests.console_script import ROOT, assert_one_line_failure, run_baton

pytestmark = pytest.mark.store


def baton(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_baton(*args, env={"BATON_DATABASE_URL": database_url})


async def _tables(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
            "'information_schema')"
        )
        return [r["tablename"] for r in rows]
    finally:
        await conn.close()


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


@pytest.mark.parametrize(
    "command", [("audit", "verify"), ("replay",), ("replay", "--verify"), ("config", "apply")]
)
async def test_a_command_on_a_database_without_baton_tables_says_so_and_creates_nothing(
    empty_database_url: str, command: tuple[str, ...], tmp_path: Path
) -> None:
    environments = ROOT / "environments"
    result = run_baton(
        *command,
        env={
            "BATON_DATABASE_URL": empty_database_url,
            "BATON_ENVIRONMENTS": str(environments),
            "BATON_DEMO_REPO": str(tmp_path),
        },
    )
    name = database_name(empty_database_url)
    assert_one_line_failure(result, 1, f"/{name} has no baton tables", "run `baton migrate`")
    assert await _tables(empty_database_url) == []
    assert baton(empty_database_url, "migrate").returncode == 0
    assert "events" in await _tables(empty_database_url)
