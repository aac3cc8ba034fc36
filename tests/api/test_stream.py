"""`GET /events/stream`: the log tailed live as server-sent events."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse, ClientTimeout

from api.config import ApiConfig
from engine.store import is_database_unavailable
from tests.api.conftest import SHA1, Api, api_config, problem


@pytest.fixture
def config() -> ApiConfig:
    """Room for two live tails, so that a third is refused."""
    return replace(api_config(), max_streams=2)


async def _read_events(response: ClientResponse, count: int) -> list[dict[str, Any]]:
    """Parse SSE messages until `count` events arrived (comments are skipped)."""
    events: list[dict[str, Any]] = []
    current: dict[str, str] = {}
    while len(events) < count:
        line = (await response.content.readline()).decode().rstrip("\n")
        if line.startswith(":"):
            continue
        if line == "":
            if current:
                events.append(
                    {
                        "id": int(current["id"]),
                        "event": current["event"],
                        "data": json.loads(current["data"]),
                    }
                )
                current = {}
            continue
        name, _, value = line.partition(": ")
        current[name] = value
    return events


async def test_the_tail_receives_a_promotions_events_in_order(api: Api) -> None:
    response = await api.get(
        "/events/stream?app=web&environment=prod", timeout=ClientTimeout(total=20)
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    for env in ("dev", "staging"):
        await api.promote(env)
        await api.verify_in(env, SHA1)
    promotion = await (await api.promote("prod", as_="release-manager")).json()
    await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")

    events = await asyncio.wait_for(_read_events(response, 4), timeout=15)
    assert [e["event"] for e in events] == [
        "Target.Created",
        "Target.PromotionRequested",
        "Target.PromotionApproved",
        "Target.PromotionStarted",
    ]
    positions = [e["id"] for e in events]
    assert positions == sorted(positions)
    assert all(e["data"]["stream_id"] == "target:web:prod" for e in events)
    assert events[2]["data"]["metadata"]["actor"] == "approver"
    response.close()


async def test_the_tail_resumes_after_last_event_id(api: Api) -> None:
    await api.promote("dev")
    head = await api.promotions.repository.store.head_position()
    response = await api.get("/events/stream", headers={"Last-Event-ID": "0"})
    events = await asyncio.wait_for(_read_events(response, head), timeout=15)
    assert [e["id"] for e in events] == list(range(1, head + 1))
    response.close()


async def test_live_tails_are_limited_because_each_holds_a_connection(api: Api) -> None:
    first = await api.get("/events/stream")
    second = await api.get("/events/stream")
    assert first.status == second.status == 200
    third = await api.get("/events/stream")
    body = await problem(third, 503, "too-many-streams")
    assert third.headers["Retry-After"] == "5" and body["status"] == 503
    first.close()  # its slot is free again within a second or so
    async with asyncio.timeout(10):
        while (again := await api.get("/events/stream")).status != 200:
            again.release()
            await asyncio.sleep(0.2)
    again.close()
    second.close()


async def test_the_tail_carries_on_after_baton_loses_its_database_connections(
    api: Api, database_url: str
) -> None:
    response = await api.get("/events/stream?app=web", timeout=ClientTimeout(total=30))
    await api.promote("dev")
    before = await asyncio.wait_for(_read_events(response, 2), timeout=15)
    admin = await asyncpg.connect(database_url)
    try:  # an operator ends every baton connection (the tail's LISTEN among them)
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    for _ in range(50):  # the first write after the loss may meet a dead connection
        try:
            await api.verify_in("dev", SHA1)
            break
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            await asyncio.sleep(0.1)
    after = await asyncio.wait_for(_read_events(response, 1), timeout=15)
    assert after[0]["id"] > before[-1]["id"], "the tail went on where it was"
    response.close()
