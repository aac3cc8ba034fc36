"""Each verification of the hash chain is recorded: how far it held, when, and where it
broke; the latest is what the console shows."""

from __future__ import annotations

import asyncpg
import pytest

from engine.store import EventMetadata, EventStore, NewEvent
from engine.store.audit import (
    ChainReport,
    latest_verification,
    record_verification,
    verify_and_record,
)
from tests.store.test_cli_audit import baton

pytestmark = pytest.mark.store

META = EventMetadata(actor="tester")


async def _append(store: EventStore, count: int) -> None:
    for i in range(count):
        await store.append(f"s{i}", [NewEvent("A", {"v": i})], expected_version=0, metadata=META)


async def test_a_log_never_verified_has_no_latest_verification(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await latest_verification(conn) is None


async def test_an_intact_chain_is_recorded_as_verified_up_to_its_head(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await _append(store, 3)
    async with pool.acquire() as conn:
        run = await verify_and_record(conn)
        latest = await latest_verification(conn)
    assert latest is not None
    assert latest == run
    assert latest.report.ok and latest.report.verified_to == 3 == latest.report.head_position


async def test_a_broken_chain_is_recorded_with_the_position_it_held_to(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await _append(store, 4)
    async with pool.acquire() as conn:
        await verify_and_record(conn)
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("UPDATE events SET data = '{\"v\": 99}' WHERE position = 3")
        await conn.execute("SET session_replication_role = DEFAULT")
        await verify_and_record(conn)
        latest = await latest_verification(conn)
    assert latest is not None
    report = latest.report
    assert (report.ok, report.broken_at, report.verified_to) == (False, 3, 2)
    assert report.reason == "hash does not match"


async def test_the_table_refuses_a_run_that_contradicts_itself(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO audit_verifications (ok, checked, head_position, verified_to,"
                " reason) VALUES (false, 1, 2, 1, 'hash does not match')"
            )
        with pytest.raises(asyncpg.CheckViolationError):  # intact, yet short of the head
            await conn.execute(
                "INSERT INTO audit_verifications (ok, checked, head_position, verified_to)"
                " VALUES (true, 1, 2, 1)"
            )
        await record_verification(conn, ChainReport(0, 0))


async def test_baton_audit_verify_records_its_run(
    database_url: str, store: EventStore, pool: asyncpg.Pool
) -> None:
    await _append(store, 2)
    result = baton(database_url, "audit", "verify")
    assert result.returncode == 0, result.stderr
    async with pool.acquire() as conn:
        latest = await latest_verification(conn)
    assert latest is not None and latest.report.ok and latest.report.verified_to == 2
