"""Replay jobs across API processes: two application instances on one database answer the
same, start one replay between them, and a job whose process died does not stay running."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from api.jobs import CANCELLED, DIED, JobRegistry, JobState
from engine.settings import Settings
from engine.store.database import Pool
from projections.rebuild import _LOCK as REBUILD_LOCK
from tests.api.conftest import Api, api_config, problem


@asynccontextmanager
async def _instance(database_url: str, home: Path) -> AsyncIterator[Api]:
    """Another API process on the same database (without a projection runner of its own)."""
    settings = Settings(database_url=database_url, home=home, environments_dir=home / "envs")
    app = init_app(settings=settings, config=replace(api_config(), run_projections=False))
    async with TestClient(TestServer(app)) as client:
        yield Api(client)


@pytest.fixture
async def other(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """A second API instance beside `api`."""
    async with _instance(database_url, tmp_path / "other") as instance:
        yield instance


@asynccontextmanager
async def _rebuilds_held(database_url: str) -> AsyncIterator[None]:
    """Hold the lock a rebuild waits for, so that a replay stays running until released."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", REBUILD_LOCK)
        yield
    finally:
        await conn.close()  # ends the session, and its lock with it


async def _finished(api: Api, job_id: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            response = await api.get(f"/admin/replay/{job_id}", as_="admin")
            job: dict[str, Any] = await response.json()
            if job["state"] != "running":
                return job
            await asyncio.sleep(0.05)


async def _replay(api: Api) -> dict[str, Any]:
    response = await api.post("/admin/replay", {"projections": ["state"]}, as_="admin")
    job: dict[str, Any] = await response.json()
    assert response.status == 202, job
    return job


async def test_a_replay_started_through_one_process_is_seen_and_refused_through_another(
    api: Api, other: Api, database_url: str
) -> None:
    async with _rebuilds_held(database_url):
        job = await _replay(api)
        seen = await (await other.get(f"/admin/replay/{job['id']}", as_="admin")).json()
        assert seen == job
        assert seen["state"] == "running"
        for instance in (other, api):
            refused = await instance.post("/admin/replay", {}, as_="admin")
            body = await problem(refused, 409, "replay-running")
            assert body["job_id"] == job["id"]
    done = await _finished(other, job["id"])
    assert done["state"] == "succeeded", done
    assert done["result"]["projections"] == ["state"]
    assert done["finished_at"] is not None
    assert {k: done[k] for k in ("id", "requested_by", "started_at")} == {
        "id": job["id"],
        "requested_by": "admin",
        "started_at": job["started_at"],
    }
    assert (await _replay(other))["id"] != job["id"]  # nothing left blocking a new one


async def test_replays_requested_at_once_through_two_processes_start_only_one(
    api: Api, other: Api, database_url: str
) -> None:
    async with _rebuilds_held(database_url):
        responses = await asyncio.gather(
            *(i.post("/admin/replay", {}, as_="admin") for i in (api, other, api, other))
        )
        bodies = [await r.json(content_type=None) for r in responses]
        started = [b for r, b in zip(responses, bodies, strict=True) if r.status == 202]
        assert len(started) == 1, bodies
        refused = [b for r, b in zip(responses, bodies, strict=True) if r.status != 202]
        assert [(b["status"], b["job_id"]) for b in refused] == [(409, started[0]["id"])] * 3
    assert (await _finished(api, started[0]["id"]))["state"] == "succeeded"


async def test_a_replay_of_a_process_that_shuts_down_is_reported_cancelled_by_another(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    async with _rebuilds_held(database_url):
        async with _instance(database_url, tmp_path / "leaving") as leaving:
            job = await _replay(leaving)
        done = await (await api.get(f"/admin/replay/{job['id']}", as_="admin")).json()
    assert (done["state"], done["error"]) == ("failed", CANCELLED)
    assert done["finished_at"] is not None


async def test_a_job_stopped_at_shutdown_before_its_task_began_is_recorded_and_let_go(
    pool: Pool,
) -> None:
    jobs = JobRegistry(pool)

    async def work() -> None:
        raise AssertionError("never runs: shutdown comes first")

    job = await jobs.start(kind="replay", requested_by="admin", work=work)
    async with asyncio.timeout(10):  # the pool's close waits for the job's connection
        await jobs.close()
        ended = await jobs.get(job.id)
        await pool.close()
    assert ended is not None
    assert (ended.state, ended.error) == (JobState.FAILED, CANCELLED)


async def _running_job_of_a_dead_process(database_url: str) -> str:
    """Insert a running replay whose owner backend has exited; its id."""
    conn = await asyncpg.connect(database_url)
    try:
        gone = await asyncpg.connect(database_url)
        owner = await gone.fetchrow(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        await gone.close()
        async with asyncio.timeout(10):
            while await conn.fetchval("SELECT 1 FROM pg_stat_activity WHERE pid = $1", owner[0]):
                await asyncio.sleep(0.02)
        job_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO jobs (id, kind, requested_by, owner_pid, owner_started_at)"
            " VALUES ($1, 'replay', 'admin', $2, $3)",
            job_id,
            owner["pid"],
            owner["backend_start"],
        )
        return str(job_id)
    finally:
        await conn.close()


async def test_a_running_job_whose_process_died_is_reported_failed(
    api: Api, database_url: str
) -> None:
    job_id = await _running_job_of_a_dead_process(database_url)
    job = await (await api.get(f"/admin/replay/{job_id}", as_="admin")).json()
    assert (job["state"], job["error"]) == ("failed", DIED)
    assert job["finished_at"] is not None


async def test_a_running_job_whose_process_died_does_not_block_a_new_replay(
    api: Api, database_url: str
) -> None:
    dead = await _running_job_of_a_dead_process(database_url)
    job = await _replay(api)
    assert job["id"] != dead
    assert (await _finished(api, job["id"]))["state"] == "succeeded"
    reaped = await (await api.get(f"/admin/replay/{dead}", as_="admin")).json()
    assert (reaped["state"], reaped["error"]) == ("failed", DIED)
