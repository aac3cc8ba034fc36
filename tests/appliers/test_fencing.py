"""A worker under database faults: its lock session dies, its append is cut mid-way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from engine.appliers.context import ApplierSettings
from engine.appliers.inprocess import running_appliers
from engine.appliers.service import AppliersService
from engine.domain.ids import target_stream
from engine.promotions import Promotions
from engine.store import EventMetadata, EventStore, NewEvent, RecordedEvent
from engine.store.database import create_pool
from engine.store.idempotency import KeyAnswer
from engine.store.types import AppendResult
from tests.appliers.applier_stage import (
    FAST,
    TEST_RETRY,
    Stage,
    config_map,
    kubesim_only,
)

pytestmark = pytest.mark.timeout(60)
CLOSING = ("Target.SyncSucceeded", "Target.SyncFailed", "Target.SyncAbandoned")


class RecordingStore(EventStore):
    """The real event store, noting which stream versions it appended (whose event is whose)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.appended: set[tuple[str, int]] = set()

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        answer: KeyAnswer | None = None,
    ) -> AppendResult:
        result = await super().append(
            stream_id, events, expected_version=expected_version, metadata=metadata, answer=answer
        )
        first = result.last_version - len(events) + 1
        self.appended |= {(stream_id, v) for v in range(first, result.last_version + 1)}
        return result


@contextlib.asynccontextmanager
async def recording_store(database_url: str) -> AsyncIterator[RecordingStore]:
    """A store on a pool of its own: another process's connections."""
    pool = await create_pool(database_url, min_size=1, max_size=8)
    store = RecordingStore(pool)
    try:
        yield store
    finally:
        await store.close()
        await pool.close()


def process(
    stage: Stage, store: EventStore, settings: ApplierSettings, **kw: Any
) -> AbstractAsyncContextManager[AppliersService]:
    """The appliers of one more baton process (its own store and pool) on the stage."""
    return running_appliers(
        store=store,
        config=stage.config,
        kubeconfig=stage.kubeconfig,
        home=stage.home,
        settings=settings,
        retry=TEST_RETRY,
        **kw,
    )


def assert_syncs_never_overlap(events: list[RecordedEvent]) -> None:
    """Each SyncStarted is closed, by an outcome of the same sync, before the next one."""
    open_sync: str | None = None
    for event in events:
        if event.type == "Target.SyncStarted":
            assert open_sync is None, f"sync {event.data['sync_id']} began inside {open_sync}"
            open_sync = event.data["sync_id"]
        elif event.type in CLOSING:
            assert event.data["sync_id"] == open_sync, f"{event.type} of a sync not open"
            open_sync = None


@kubesim_only
async def test_a_worker_whose_lock_session_died_writes_nothing_more_and_another_takes_over(
    stage: Stage, database_url: str
) -> None:
    assert stage.sim is not None
    stage.app({"dev": {"auto_promote": True}})
    stream = target_stream(stage.name, "dev")
    # the first process would not notice the loss for 8 s by itself: its workers' fence must
    first_settings = replace(FAST, lock_interval=8.0)
    second_settings = replace(FAST, lock_interval=0.3)
    async with (
        recording_store(database_url) as first_store,
        recording_store(database_url) as second_store,
        process(stage, first_store, first_settings) as first,
    ):
        assert first.owned == {stream}
        async with process(stage, second_store, second_settings, promoter=False) as second:
            assert not second.owned
            faults = stage.sim.cluster("dev").faults
            faults.latency, faults.methods = 0.6, frozenset({"PATCH"})
            r1 = await stage.release({f"c{i}.yaml": config_map(f"c{i}") for i in range(3)})

            async def syncing() -> bool:
                return "SyncStarted" in await stage.types("dev")

            await stage.until(syncing, what="the first process to start a sync")
            # the first process's lock session dies while it applies (0.6 s a request)
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("SELECT pg_terminate_backend($1)", first.locks.backend_pid)
            finally:
                await conn.close()
            await stage.until_verified("dev", r1)
            assert second.owned == {stream}
            # what the first process would have recorded when its requests came back
            await asyncio.sleep(0.3)
    events = await stage.events("dev")
    started = next(e for e in events if e.type == "Target.SyncStarted")
    assert (stream, started.stream_version) in first_store.appended
    late = [
        e.type
        for e in events
        if e.stream_version > started.stream_version
        and e.metadata.actor == "applier"
        and (stream, e.stream_version) in first_store.appended
    ]
    assert late == []
    assert_syncs_never_overlap(events)
    # the second process closed the sync it found open, and carried the release through
    closing = [e for e in events if e.type in CLOSING]
    assert [e.type for e in closing] == ["Target.SyncAbandoned", "Target.SyncSucceeded"]
    assert all((stream, e.stream_version) in second_store.appended for e in closing)


async def test_a_read_cut_mid_way_costs_a_pass_and_the_same_worker_carries_on(
    stage: Stage, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    stage.app({"dev": {}})
    stream = target_stream(stage.name, "dev")
    caplog.set_level(logging.INFO, logger="engine.appliers.worker")
    async with stage.appliers(promoter=False):
        r1 = await stage.release({"config.yaml": config_map()})
    await Promotions(stage.repository).request(
        stage.name, "dev", release=r1, metadata=EventMetadata(actor="alice")
    )
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        async with stage.appliers(promoter=False) as service:
            worker = service._workers[stream]
            # the worker's first pass reads its stream: cut that read; the next pass waits
            # (for a new connection) until the lock goes
            reader = await waiting_read(conn, database_url)
            await conn.execute("SELECT pg_terminate_backend($1)", reader)
            await stage.until(lambda: failed(caplog), what="the pass to fail")
            await conn.execute("COMMIT")
            await stage.until_verified("dev", r1)
            # the same worker, never restarted
            assert service._supervisor is not None
            assert service._supervisor.status(worker).restarts == 0
    finally:
        await conn.close()
    events = await stage.events("dev")
    assert_syncs_never_overlap(events)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(stage.name)]
    # one line when it stops working, one when it works again: not one per retry
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{stage.name}/dev: stopped working, the database is unavailable")
    assert lines[1] == f"{stage.name}/dev: working again after 1 failed pass"


async def failed(caplog: pytest.LogCaptureFixture) -> bool:
    return any("stopped working" in r.getMessage() for r in caplog.records)


async def waiting_read(conn: asyncpg.Connection, database_url: str, within: float = 10.0) -> int:
    """The backend whose read of a stream waits on the lock `conn` holds.

    Watched from a connection of its own: inside `conn`'s transaction pg_stat_activity
    would stay as it was at its first read, and miss a backend opened since."""
    me = conn.get_server_pid()
    watcher = await asyncpg.connect(database_url)
    try:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            pid = await watcher.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))"
                " AND query LIKE '%WHERE stream_id = $1 AND stream_version > $2%' LIMIT 1",
                me,
            )
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.02)
    finally:
        await watcher.close()
    raise AssertionError("no read of a stream came to wait on the lock")
