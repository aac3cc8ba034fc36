"""Aggregates saved to and loaded from the real event store, through the promotion service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.codec import UnknownEventType
from engine.domain import errors
from engine.domain.enums import Health, PromotionPhase
from engine.domain.ids import target_stream
from engine.domain.target import Target
from engine.promotions import Promotions
from engine.repository import Repository
from engine.store import EventMetadata, EventStore, NewEvent

pytestmark = pytest.mark.store

ALICE = EventMetadata(actor="alice")
BOB = EventMetadata(actor="bob")
CONFIG: dict[str, Any] = {
    "repo": "https://git.example/web.git",
    "environments": [
        {"name": "dev", "policy": {"auto_promote": True}},
        {"name": "staging"},
        {"name": "prod", "policy": {"approvals": 1, "soak": "10m"}},
    ],
}
SHA1, SHA2 = "1" * 40, "2" * 40


@pytest.fixture
async def service(store: EventStore) -> Promotions:
    promotions = Promotions(Repository(store))
    await promotions.register_app("web", CONFIG, metadata=ALICE)
    for sha in (SHA1, SHA2):
        await promotions.create_release(
            "web",
            sha=sha,
            digest="d" * 64,
            message="m",
            author="dev",
            committed_at=datetime(2026, 1, 1, tzinfo=UTC),
            metadata=ALICE,
        )
    return promotions


async def verify_in(service: Promotions, env: str, sha: str) -> None:
    repo = service.repository
    target = await repo.get(Target, target_stream("web", env))
    now = datetime.now(UTC)
    target.record_sync(sync_id="s", release=sha, now=now)
    target.record_health(health=Health.HEALTHY, reasons=[], now=now)
    assert target.verify(soak_seconds=0, now=now)
    await repo.save(target, metadata=EventMetadata(actor="applier"))


async def test_a_release_walks_the_pipeline_and_the_log_tells_who_did_what(
    service: Promotions, store: EventStore
) -> None:
    dev = await service.request("web", "dev", release=SHA1, metadata=ALICE, reason="first")
    assert dev.phase == PromotionPhase.STARTED
    await verify_in(service, "dev", SHA1)
    await service.request("web", "staging", from_environment="dev", metadata=ALICE)
    await verify_in(service, "staging", SHA1)
    prod = await service.request("web", "prod", release=SHA1[:10], metadata=ALICE)
    assert prod.phase == PromotionPhase.AWAITING_APPROVAL
    target = await service.approve("web", "prod", prod.id, metadata=BOB, comment="ok")
    assert target.desired_release == SHA1

    log = await store.read_stream(target_stream("web", "prod"))
    assert [(e.type, e.metadata.actor) for e in log] == [
        ("Target.Created", "alice"),
        ("Target.PromotionRequested", "alice"),
        ("Target.PromotionApproved", "bob"),
        ("Target.PromotionStarted", "bob"),
    ]
    assert {e.metadata.correlation_id for e in log[1:]} == {prod.id}
    assert log[2].data["by"] == "bob" and log[2].schema_version == 2


async def test_a_reloaded_target_equals_the_one_that_was_saved(service: Promotions) -> None:
    await service.request("web", "dev", release=SHA1, metadata=ALICE)
    await verify_in(service, "dev", SHA1)
    loaded = await service.target("web", "dev")
    assert loaded is not None
    assert loaded.verified == [SHA1]
    assert loaded.health == Health.HEALTHY
    assert loaded.promotion is not None and loaded.promotion.phase == PromotionPhase.COMPLETED
    assert loaded.promotion.requested_at.tzinfo is not None


async def test_racing_promotions_leave_exactly_one_in_flight(service: Promotions) -> None:
    results = await asyncio.gather(
        service.request("web", "dev", release=SHA1, metadata=ALICE),
        service.request("web", "dev", release=SHA2, metadata=BOB),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, errors.PromotionInFlight)]
    assert len(refused) == 1, results
    target = await service.target("web", "dev")
    assert target is not None and target.in_flight is not None


async def test_staging_refuses_a_release_dev_has_not_verified(service: Promotions) -> None:
    await service.request("web", "dev", release=SHA1, metadata=ALICE)
    with pytest.raises(errors.NotVerifiedUpstream):
        await service.request("web", "staging", release=SHA1, metadata=ALICE)


async def test_an_old_version_event_is_read_through_its_upcaster(
    service: Promotions, store: EventStore
) -> None:
    # A v1 approval, as an older baton wrote it: the approver was called `approver`.
    stream = target_stream("web", "prod")
    await store.append(
        stream,
        [
            NewEvent(
                "Target.Created",
                {"app": "web", "environment": "prod", "timestamp": "2025-01-01T00:00:00+00:00"},
            ),
            NewEvent(
                "Target.PromotionRequested",
                {
                    "promotion_id": "p-old",
                    "release": SHA1,
                    "release_number": 1,
                    "kind": "manual",
                    "requested_by": "alice",
                    "reason": "",
                    "from_environment": "staging",
                    "approvals_required": 1,
                    "at": "2025-01-01T00:00:00+00:00",
                    "timestamp": "2025-01-01T00:00:00+00:00",
                },
            ),
            NewEvent(
                "Target.PromotionApproved",
                {
                    "promotion_id": "p-old",
                    "approver": "bob",
                    "at": "2025-01-01T00:01:00+00:00",
                    "timestamp": "2025-01-01T00:01:00+00:00",
                },
                schema_version=1,
            ),
        ],
        expected_version=0,
        metadata=ALICE,
    )
    target = await service.target("web", "prod")
    assert target is not None and target.promotion is not None
    (approval,) = target.promotion.approvals
    assert (approval.by, approval.comment) == ("bob", "")


async def test_an_unknown_event_type_is_an_error_naming_position_and_type(
    service: Promotions, store: EventStore
) -> None:
    await service.request("web", "dev", release=SHA1, metadata=ALICE)
    result = await store.append(
        target_stream("web", "dev"),
        [NewEvent("Target.Teleported", {})],
        expected_version=None,
        metadata=ALICE,
    )
    with pytest.raises(UnknownEventType) as caught:
        await service.target("web", "dev")
    assert caught.value.position == result.first_position
    assert f"position {result.first_position}" in str(caught.value)
    assert "'Target.Teleported'" in str(caught.value)


async def test_a_cached_aggregate_sees_what_other_writers_appended_since(
    service: Promotions, store: EventStore
) -> None:
    await service.request("web", "dev", release=SHA1, metadata=ALICE)
    first = await service.target("web", "dev")  # now cached
    assert first is not None
    # another process (its own repository) moves the target on
    other = Promotions(Repository(store))
    await verify_in(other, "dev", SHA1)
    again = await service.target("web", "dev")
    assert again is not None and again.verified == [SHA1]
    assert again.version == await store.stream_version(target_stream("web", "dev"))


async def test_a_refused_command_does_not_leak_into_the_cache(service: Promotions) -> None:
    await service.request("web", "dev", release=SHA1, metadata=ALICE)
    target = await service.target("web", "dev")
    assert target is not None
    target.record_sync(sync_id="s", release=SHA1, now=datetime.now(UTC))  # never saved
    reloaded = await service.target("web", "dev")
    assert reloaded is not None and reloaded.applied_release is None
