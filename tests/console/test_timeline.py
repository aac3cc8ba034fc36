"""The promotion timeline: each event a readable entry, oldest first, and the soak read from
the health changes after the sync of the promotion's release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from console.timeline import timeline
from engine.domain.ids import short_sha
from engine.domain.vocabulary import EventType

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SHA = "a" * 40
OTHER = "b" * 40
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def ev(
    type_: EventType, seconds: float, actor: str = "baton", trace: str | None = None, **data: Any
) -> dict[str, Any]:
    return {
        "type": type_.value,
        "data": data,
        "recorded_at": T0 + timedelta(seconds=seconds),
        "actor": actor,
        "trace_id": trace,
    }


def requested(**data: Any) -> dict[str, Any]:
    fields = {
        "promotion_id": "p1",
        "release": SHA,
        "kind": "manual",
        "requested_by": "alice",
        "reason": "ship it",
        "from_environment": "dev",
        "approvals_required": 1,
        **data,
    }
    return ev(EventType.PROMOTION_REQUESTED, 0, "alice", TRACE, **fields)


OBJECTS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web",
     "action": "configured", "resourceVersion": "7", "attempts": 1},
    {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "old",
     "action": "pruned", "resourceVersion": "", "attempts": 2},
]  # fmt: skip


def approved_and_running() -> list[dict[str, Any]]:
    return [
        requested(),
        ev(EventType.PROMOTION_APPROVED, 10, "bob", TRACE, promotion_id="p1", by="bob",
           comment="looks good"),
        ev(EventType.PROMOTION_STARTED, 10, "bob", promotion_id="p1", release=SHA),
        ev(EventType.SYNC_STARTED, 11, sync_id="s1", release=SHA, object_count=2, reason="x"),
        ev(EventType.SYNC_SUCCEEDED, 12, sync_id="s1", release=SHA, objects=OBJECTS),
        ev(EventType.HEALTH_CHANGED, 13, previous="Healthy", health="Progressing",
           reasons=["web: 1 of 2 updated replicas are available"]),
        ev(EventType.HEALTH_CHANGED, 20, previous="Progressing", health="Healthy", reasons=[]),
    ]  # fmt: skip


def test_each_event_is_an_entry_with_its_actor_time_reason_and_trace() -> None:
    entries = timeline(approved_and_running())
    kinds = [e.kind for e in entries]
    assert kinds == [
        "requested", "approved", "started", "sync-started", "synced", "health", "health",
    ]  # fmt: skip
    first, approval = entries[0], entries[1]
    assert first.title == "requested by alice"
    assert first.detail == "ship it; from dev; needs 1 approval"
    assert first.trace_id == TRACE and first.at == T0
    assert approval.title == "approved by bob" and approval.detail == "looks good"
    assert approval.actor == "bob" and approval.tone == "good"
    assert entries[5].title == "health Healthy → Progressing"
    assert entries[5].detail == "web: 1 of 2 updated replicas are available"


def test_a_sync_lists_each_object_it_applied_with_its_action() -> None:
    synced = timeline(approved_and_running())[4]
    assert synced.title == f"synced {short_sha(SHA)}: 2 objects"
    assert [(o.action, o.kind, o.name, o.attempts) for o in synced.objects] == [
        ("configured", "Deployment", "shop/web", 1),
        ("pruned", "ConfigMap", "shop/old", 2),
    ]


def test_a_soaking_promotion_says_until_when_after_the_health_change_that_began_it() -> None:
    now = T0 + timedelta(seconds=50)
    entries = timeline(approved_and_running(), soak=timedelta(minutes=1), now=now)
    assert [e.kind for e in entries][-2:] == ["health", "soak"]
    soak = entries[-1]
    assert soak.at == T0 + timedelta(seconds=20)
    assert soak.until == T0 + timedelta(seconds=80)
    assert soak.title == "soaking: healthy for 1m, 30s left"


def test_a_verified_promotion_says_how_long_it_soaked() -> None:
    events = [
        *approved_and_running(),
        ev(EventType.PROMOTION_VERIFIED, 95, promotion_id="p1", release=SHA),
    ]
    entries = timeline(events, soak=timedelta(minutes=1))
    assert [e.kind for e in entries][-3:] == ["health", "soak", "verified"]
    assert entries[-2].title == "soaked: healthy for 1m15s"
    assert entries[-2].until == T0 + timedelta(seconds=95)


def test_health_before_the_sync_of_the_release_starts_no_soak() -> None:
    events = [
        requested(approvals_required=0),
        ev(EventType.HEALTH_CHANGED, 1, previous="Degraded", health="Healthy", reasons=[]),
        ev(EventType.PROMOTION_STARTED, 2, promotion_id="p1", release=SHA),
        ev(EventType.SYNC_SUCCEEDED, 3, sync_id="s0", release=OTHER, objects=[]),
    ]
    entries = timeline(events, soak=timedelta(minutes=1), now=T0)
    assert "soak" not in [e.kind for e in entries]
    assert entries[0].detail == "ship it; from dev"


def test_a_rejection_carries_its_comment_and_ends_without_a_soak() -> None:
    events = [
        requested(),
        ev(EventType.PROMOTION_REJECTED, 5, "bob", promotion_id="p1", by="bob",
           reason="not during the sale"),
    ]  # fmt: skip
    last = timeline(events, soak=timedelta(minutes=1))[-1]
    assert (last.kind, last.title, last.detail, last.tone) == (
        "rejected", "rejected by bob", "not during the sale", "bad",
    )  # fmt: skip


def test_a_rollback_and_what_it_superseded_and_rolled_back() -> None:
    events = [
        requested(kind="rollback", approvals_required=0, from_environment=None, reason="500s"),
        ev(EventType.RELEASE_ROLLED_BACK, 0, "alice", release=OTHER, promotion_id="p1"),
        ev(EventType.PROMOTION_FAILED, 9, promotion_id="p1", reason="degraded after sync"),
    ]
    entries = timeline(events)
    assert entries[0].title == "rollback requested by alice"
    assert entries[0].detail == "500s"
    assert entries[1].kind == "rolled-back"
    assert (entries[2].kind, entries[2].detail, entries[2].tone) == (
        "failed", "degraded after sync", "bad",
    )  # fmt: skip


def test_an_event_type_the_timeline_does_not_draw_is_left_out() -> None:
    events = [requested(), ev(EventType.APP_COMMIT_OBSERVED, 1, sha=SHA)]
    assert [e.kind for e in timeline(events)] == ["requested"]
