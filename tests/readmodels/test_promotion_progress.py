"""A promotion's progress folded from its events (`projections.progress`), and how
`baton promote --wait` reads it (`baton.cli.progress`): table-driven, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.cli.progress import State, steps, waiting_for
from engine.domain.vocabulary import EventType
from projections.progress import promotion_progress

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OURS, OTHER = "a" * 40, "b" * 40
OBJECTS = [{"kind": k, "name": "shop", "action": "created"} for k in ("Deployment", "Service")]


def event(kind: EventType, second: int, **data: Any) -> dict[str, Any]:
    return {"type": kind.value, "recorded_at": T0 + timedelta(seconds=second), "data": data}


REQUESTED = event(EventType.PROMOTION_REQUESTED, 0, release=OURS)
SYNCING = event(EventType.SYNC_STARTED, 1, release=OURS, object_count=2)
SYNCED = event(
    EventType.SYNC_SUCCEEDED,
    2,
    release=OURS,
    objects=[*OBJECTS, {"kind": "ConfigMap", "name": "old", "action": "pruned"}],
)


def health(second: int, state: str, *reasons: str) -> dict[str, Any]:
    return event(EventType.HEALTH_CHANGED, second, health=state, reasons=list(reasons))


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([REQUESTED], {"objects_total": None, "health": None}, id="not-started"),
        pytest.param(
            [REQUESTED, health(1, "Healthy"), SYNCING],
            {"objects_total": 2, "objects_applied": 0, "health": None},
            id="syncing-the-health-before-is-not-its-own",
        ),
        pytest.param(
            [REQUESTED, SYNCING, SYNCED, health(3, "Progressing", "1 of 2 replicas")],
            {"objects_applied": 2, "health": "Progressing", "health_reasons": ["1 of 2 replicas"]},
            id="synced-pruned-objects-not-counted",
        ),
        pytest.param(
            [
                REQUESTED,
                SYNCING,
                event(
                    EventType.SYNC_FAILED,
                    2,
                    release=OURS,
                    object="Deployment shop",
                    reason="Invalid",
                    message="bad field",
                ),
            ],
            {"objects_applied": 0, "sync_error": "Deployment shop: Invalid: bad field"},
            id="sync-failed",
        ),
        pytest.param(
            [REQUESTED, SYNCING, SYNCED, health(3, "Healthy")],
            {"healthy_since": T0 + timedelta(seconds=3), "soak_left_seconds": 20.0},
            id="soaking",
        ),
        pytest.param(
            [REQUESTED, SYNCING, SYNCED, health(3, "Healthy"), health(8, "Degraded", "crash")],
            {"healthy_since": None, "soak_left_seconds": None, "health": "Degraded"},
            id="degraded-stops-the-soak",
        ),
        pytest.param(
            [
                REQUESTED,
                SYNCING,
                SYNCED,
                health(3, "Healthy"),
                event(EventType.SYNC_SUCCEEDED, 4, release=OTHER, objects=OBJECTS),
            ],
            {"healthy_since": None, "objects_applied": 2},
            id="another-release-synced-after",
        ),
    ],
)
def test_the_progress_is_folded_from_the_promotions_events(
    events: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    now = T0 + timedelta(seconds=13)
    found = promotion_progress(events, soak=timedelta(seconds=30), now=now)
    assert {k: found[k] for k in expected} == expected


def _promotion(phase: str, progress: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "id": "p1",
        "app": "shop",
        "environment": "prod",
        "release": OURS,
        "phase": phase,
        "approvals_required": 1,
        "approvals": [{"by": "bob"}],
        "progress": progress,
        **more,
    }


def test_a_promotion_soaking_waits_for_the_time_left() -> None:
    events = [REQUESTED, SYNCING, SYNCED, health(3, "Healthy")]
    progress = promotion_progress(events, soak=timedelta(minutes=1), now=T0 + timedelta(seconds=13))
    shown = {s.name: s for s in steps(_promotion("synced", progress))}

    assert [shown[n].state for n in ("approval", "apply", "health", "soak", "verified")] == [
        State.DONE,
        State.DONE,
        State.DONE,
        State.RUNNING,
        State.WAITING,
    ]
    assert shown["approval"].text == "1 of 1 approvals (by bob)"
    assert shown["apply"].text == "2/2 objects applied"
    assert waiting_for(_promotion("synced", progress)) == "soaking (healthy for 1m, 50s left)"


def test_a_rejected_promotion_fails_at_its_approval() -> None:
    rejected = _promotion("rejected", {}, approvals=[], outcome="rejected by bob: not now")
    first = steps(rejected)[0]
    assert (first.state, first.text) == (State.FAILED, "rejected by bob: not now")
