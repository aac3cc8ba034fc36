"""A write request cut by a killed server is done exactly once: its retry gets the first
answer when the first attempt committed, and runs it when it did not.

The test holds the log's head row, so that a promotion's append waits inside Postgres, and
kills the baton process (kill -9) while it waits. Released, the append commits (the
server's session does not know its client died) or, with that session ended first, rolls
back. Either way a retry with the same Idempotency-Key, to a restarted baton, is answered at
once with one promotion in the log.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.service.baton_process import Baton, Site, call, environment, wait_for

KEY = {"Idempotency-Key": "ship-it-once"}


@pytest.fixture
async def verified(site: Site) -> AsyncIterator[Site]:
    """The site once dev has verified its release (the baton that did it stopped)."""
    baton = Baton.start(site)
    try:
        await asyncio.to_thread(baton.wait_ready)
        await asyncio.to_thread(
            wait_for,
            "dev verified",
            lambda: environment(baton.url, "dev")["last_verified_release"] == site.release,
        )
    finally:
        await asyncio.to_thread(baton.stop)
    yield site


def _body(site: Site) -> dict[str, Any]:
    return {"app": "shop", "environment": "staging", "release": site.release}


async def _append_waiting(site: Site, holder: int) -> int:
    """The backend whose append waits on the head row the `holder` backend holds (the only
    thing that waits on it: an API process appends nothing else). Watched from outside any
    transaction: inside one, pg_stat_activity stays as it was at its first read."""
    watcher = await asyncpg.connect(site.database_url)
    try:
        for _ in range(200):
            pid = await watcher.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder
            )
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.05)
    finally:
        await watcher.close()
    raise AssertionError("no append came to wait on the head row")


async def _ended(site: Site, pid: int) -> None:
    """Wait for the backend `pid` to end: released, it finishes its statement (commit or
    rollback) before it reads its client's end of file, so its outcome is settled then."""
    watcher = await asyncpg.connect(site.database_url)
    try:
        for _ in range(400):
            if not await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid
            ):
                return
            await asyncio.sleep(0.05)
    finally:
        await watcher.close()
    raise AssertionError(f"the append's backend {pid} did not end")


async def _kill_during_append(site: Site, *, commit: bool) -> None:
    """Ask for the promotion; kill baton while its append waits; let the append go on.

    An API process: no applier's append can queue ahead of the promotion's."""
    baton = Baton.start(site, "--role", "api")
    await asyncio.to_thread(baton.wait_ready)
    conn = await asyncpg.connect(site.database_url)
    try:
        await conn.execute("BEGIN; SELECT * FROM event_head FOR UPDATE")
        answers: list[Any] = []
        sender = threading.Thread(
            target=lambda: answers.append(
                call(baton.url, "POST", "/promotions", _body(site), headers=KEY, timeout=30)
            )
        )
        sender.start()
        waiting = await _append_waiting(site, conn.get_server_pid())
        await asyncio.to_thread(baton.stop, signal.SIGKILL)
        if not commit:
            await conn.fetchval("SELECT pg_terminate_backend($1)", waiting)
        await conn.execute("COMMIT")
        await _ended(site, waiting)
        await asyncio.to_thread(sender.join, 30)
        assert answers and answers[0][0] == 0, f"the client got no answer: {answers}"
    finally:
        await conn.close()


async def _requested(site: Site) -> list[str]:
    conn = await asyncpg.connect(site.database_url)
    try:
        rows = await conn.fetch(
            "SELECT data->>'promotion_id' AS id FROM events"
            " WHERE stream_id = 'target:shop:staging' AND type = 'Target.PromotionRequested'"
        )
    finally:
        await conn.close()
    return [r["id"] for r in rows]


def _retry(site: Site) -> tuple[int, Any]:
    baton = Baton.start(site, "--role", "api")
    try:
        baton.wait_ready()
        return call(baton.url, "POST", "/promotions", _body(site), headers=KEY, timeout=30)
    finally:
        baton.stop()


async def test_a_request_killed_after_its_commit_is_answered_from_the_log(verified: Site) -> None:
    await _kill_during_append(verified, commit=True)
    assert len(await _requested(verified)) == 1, "the append committed after the kill"
    status, body = await asyncio.to_thread(_retry, verified)
    assert status == 202, body
    assert await _requested(verified) == [body["id"]], "answered from the first attempt"


async def test_a_request_killed_before_its_commit_runs_on_retry_at_once(verified: Site) -> None:
    await _kill_during_append(verified, commit=False)
    assert await _requested(verified) == [], "the cut append rolled back"
    status, body = await asyncio.to_thread(_retry, verified)
    assert status == 202, body  # not 409 "in progress": the first attempt's process is gone
    assert await _requested(verified) == [body["id"]]
