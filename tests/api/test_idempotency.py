"""`Idempotency-Key`: a retry gets the first answer and nothing is written twice."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from api.config import ApiConfig
from tests.api.conftest import SHA1, SHA2, Api, api_config, problem

BODY = {"app": "web", "environment": "dev", "release": SHA1, "reason": "ship"}


async def _count(api: Api, event_type: str) -> int:
    events = await api.promotions.repository.store.read_stream("target:web:dev")
    return sum(1 for e in events if e.type == event_type)


async def test_a_retried_promotion_returns_the_first_answer_and_writes_once(api: Api) -> None:
    key = {"Idempotency-Key": "deploy-42"}
    first = await api.post("/promotions", BODY, as_="dev", headers=key)
    second = await api.post("/promotions", BODY, as_="dev", headers=key)
    assert first.status == second.status == 202
    assert await first.json() == await second.json()
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await _count(api, "Target.PromotionRequested") == 1


async def test_a_refusal_is_replayed_too(api: Api) -> None:
    await api.post("/promotions", BODY, as_="dev")
    key = {"Idempotency-Key": "again"}
    body = {**BODY, "release": SHA2}
    first = await problem(await api.post("/promotions", body, as_="dev", headers=key), 409)
    second = await problem(await api.post("/promotions", body, as_="dev", headers=key), 409)
    assert first == second


async def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    key = {"Idempotency-Key": "k1"}
    assert (await api.post("/promotions", BODY, as_="dev", headers=key)).status == 202
    other = await api.post("/promotions", {**BODY, "reason": "other"}, as_="dev", headers=key)
    body = await problem(other, 422, "idempotency-key-reused")
    assert body["field"] == "Idempotency-Key"


async def test_keys_belong_to_their_subject(api: Api) -> None:
    key = {"Idempotency-Key": "shared"}
    assert (await api.post("/promotions", BODY, as_="dev", headers=key)).status == 202
    # the admin's request with the same key is a request of its own: refused as in flight
    theirs = await api.post("/promotions", BODY, as_="admin", headers=key)
    await problem(theirs, 409, "promotion-in-flight")


async def test_concurrent_duplicates_wait_for_the_first_and_get_its_answer(api: Api) -> None:
    key = {"Idempotency-Key": "race"}
    answers = await asyncio.gather(
        *(api.post("/promotions", BODY, as_="dev", headers=key) for _ in range(8))
    )
    assert [r.status for r in answers] == [202] * 8
    bodies = [await r.json() for r in answers]
    assert all(b == bodies[0] for b in bodies)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 7
    assert await _count(api, "Target.PromotionRequested") == 1


async def test_a_bad_key_is_a_400(api: Api) -> None:
    response = await api.post(
        "/promotions", BODY, as_="dev", headers={"Idempotency-Key": "x" * 201}
    )
    await problem(response, 400, "invalid-idempotency-key")


async def test_a_key_whose_request_died_unanswered_is_freed_after_a_while(api: Api) -> None:
    pool = api.promotions.repository.store.pool
    async with pool.acquire() as conn:  # a reservation left by a process that crashed
        await conn.execute(
            "INSERT INTO idempotency_keys (subject, key, method, path, request_hash, created_at)"
            " VALUES ('dev', 'orphan', 'POST', '/api/v1/promotions', $1,"
            " now() - interval '1 hour')",
            "0" * 64,
        )
    response = await api.post("/promotions", BODY, as_="dev", headers={"Idempotency-Key": "orphan"})
    assert response.status == 202


@pytest.fixture
def config() -> ApiConfig:
    """A short wait for a first request that is still running."""
    return replace(api_config(), idempotency_wait=timedelta(milliseconds=300))


async def test_a_retry_while_the_first_still_runs_is_told_when_to_come_back(api: Api) -> None:
    pool = api.promotions.repository.store.pool
    async with pool.acquire() as conn:  # held by a live session (this one) for 20 s more
        await conn.execute(
            "INSERT INTO idempotency_keys (subject, key, method, path, request_hash, owner,"
            " lease_until, owner_pid, owner_started)"
            " SELECT 'dev', 'busy', 'POST', '/api/v1/promotions', $1, gen_random_uuid(),"
            " now() + interval '20 seconds', pid, backend_start"
            " FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            hashlib.sha256(b"/api/v1/promotions\n" + json.dumps(BODY).encode()).hexdigest(),
        )
        response = await api.post(
            "/promotions", BODY, as_="dev", headers={"Idempotency-Key": "busy"}
        )
        await problem(response, 409, "idempotency-key-in-progress")
        assert 15 <= int(response.headers["Retry-After"]) <= 20
