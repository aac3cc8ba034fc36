"""Replays while the API serves: no read fails, none waits long, nothing written is lost.

Readers of every read endpoint run in a loop while replays of every projection follow one
another and promotions are written; the swap of the rebuilt tables must never make a read
answer 5xx (it used to: a reader holding one table while waiting for another met the swap
holding that other, and Postgres failed one of them as a deadlock).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.api.conftest import SHA1, SHA2, Api

pytestmark = pytest.mark.timeout(120)
READS = ("/apps", "/apps/web", "/state", "/state?as_of=1", "/state/diff?from=1&to=5", "/events")


async def _read_loop(
    api: Api, path: str, stop: asyncio.Event, seen: list[tuple[int, float]]
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        response = await api.get(path, as_="viewer")
        await response.read()
        seen.append((response.status, time.perf_counter() - started))


async def _replay_and_wait(api: Api) -> dict[str, Any]:
    response = await api.post("/admin/replay", {}, as_="admin")
    job: dict[str, Any] = await response.json()
    assert response.status == 202, job
    async with asyncio.timeout(60):
        while job["state"] == "running":
            await asyncio.sleep(0.05)
            job = await (await api.get(f"/admin/replay/{job['id']}", as_="admin")).json()
    return job


async def test_reads_never_fail_while_replays_swap_tables_in(api: Api) -> None:
    await api.promote("dev")
    await api.verify_in("dev", SHA1)
    stop = asyncio.Event()
    seen: list[tuple[int, float]] = []
    readers = [asyncio.create_task(_read_loop(api, p, stop, seen)) for p in READS * 2]
    try:
        jobs = [await _replay_and_wait(api)]
        assert (await api.promote("dev", SHA2)).status == 202  # written between two replays
        await api.verify_in("dev", SHA2)
        jobs += [await _replay_and_wait(api), await _replay_and_wait(api)]
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert [j["state"] for j in jobs] == ["succeeded"] * 3, jobs
    statuses = {status for status, _ in seen}
    assert statuses == {200}, sorted(statuses)
    assert len(seen) > 100
    assert max(seconds for _, seconds in seen) < 1.0, "a read waited behind a swap too long"
    dev = (await (await api.get("/apps/web", as_="viewer")).json())["environments"][0]
    assert dev["last_verified_release"] == SHA2, "the write between replays is in the models"
