"""The appliers' decisions, as pure functions: what one pass over a target should do.

Where it sits: between observe (the Target aggregate, the rendered release and the live
objects, gathered by ``worker.py``) and act (apply, prune and record, also ``worker.py``).
Nothing here does I/O, so every rule is tested on plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.appliers.objects import (
    NEVER_PRUNED,
    Identity,
    ObjectRef,
    drift_of,
    is_owned,
    ref_of,
)
from engine.domain.enums import Health, PromotionPhase


class Action(StrEnum):
    """What a sync did to one object."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"


class Live:
    """What is known of the live objects: an object, None (known absent), or unknown."""

    def __init__(self, known: Mapping[Identity, dict[str, Any] | None]) -> None:
        self._known = known

    def knows(self, identity: Identity) -> bool:
        """True when the live state of `identity` is known (present or absent)."""
        return identity in self._known

    def get(self, identity: Identity) -> dict[str, Any] | None:
        """The live object, None when absent or unknown."""
        return self._known.get(identity)


@dataclass(frozen=True, kw_only=True)
class SyncPlan:
    """The writes of one sync, in apply order, and the objects to prune."""

    first: tuple[dict[str, Any], ...]  # Namespaces and CRDs: applied before the rest
    rest: tuple[dict[str, Any], ...]
    unchanged: tuple[dict[str, Any], ...]  # equal to the live object: no write
    created: frozenset[Identity]  # known absent before the sync
    prune: tuple[ObjectRef, ...]

    @property
    def writes(self) -> int:
        """How many objects the sync applies."""
        return len(self.first) + len(self.rest)


def plan_sync(
    desired: Sequence[dict[str, Any]],
    *,
    live: Live,
    inventory: Iterable[ObjectRef],
    app: str,
    environment: str,
) -> SyncPlan:
    """Apply what differs (or is unknown), skip what is equal, prune what left.

    Pruned: objects of the inventory (the last sync's objects) or live objects labelled
    for this target that the release no longer has, if the live object is baton's for
    this target (when the live state is unknown, the act phase reads it and checks
    before deleting). Namespaces and CRDs are never pruned.
    """
    first: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    unchanged: list[dict[str, Any]] = []
    created: set[Identity] = set()
    wanted: set[Identity] = set()
    for body in desired:
        identity = ref_of(body).identity
        wanted.add(identity)
        if live.knows(identity):
            current = live.get(identity)
            if current is None:
                created.add(identity)
            elif not drift_of(body, current):
                unchanged.append(body)
                continue
        (first if body["kind"] in NEVER_PRUNED else rest).append(body)
    prune: dict[Identity, ObjectRef] = {}
    for ref in inventory:
        if ref.identity in wanted or ref.kind in NEVER_PRUNED:
            continue
        current = live.get(ref.identity)
        if live.knows(ref.identity) and (
            current is None or not is_owned(current, app=app, environment=environment)
        ):
            continue  # gone already, or not ours: never prune what baton does not own
        prune[ref.identity] = ref
    return SyncPlan(
        first=tuple(first),
        rest=tuple(rest),
        unchanged=tuple(unchanged),
        created=frozenset(created),
        prune=tuple(prune.values()),
    )


def plan_drift(desired: Sequence[dict[str, Any]], live: Live) -> list[dict[str, Any]]:
    """Objects whose live state differs from what baton applied, with the fields."""
    drifted = []
    for body in desired:
        ref = ref_of(body)
        if not live.knows(ref.identity):
            continue
        fields = drift_of(body, live.get(ref.identity))
        if fields:
            drifted.append({"object": ref.describe(), "fields": fields})
    return drifted


class Step(StrEnum):
    """The main thing a pass does after observing."""

    IDLE = "idle"  # nothing desired yet
    SYNC = "sync"  # the desired release is not applied (or the last sync failed)
    CHECK = "check"  # applied: look for drift, assess health


@dataclass(frozen=True, kw_only=True)
class TargetView:
    """The facts of a Target aggregate a pass decides on."""

    desired_release: str | None
    applied_release: str | None
    sync_failed: bool
    promotion_id: str | None
    promotion_phase: PromotionPhase | None
    health: Health
    healthy_since: datetime | None


def decide_step(view: TargetView) -> Step:
    """Sync when the desired release is not the applied one or the last sync failed."""
    if view.desired_release is None:
        return Step.IDLE
    if view.applied_release != view.desired_release or view.sync_failed:
        return Step.SYNC
    return Step.CHECK


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What a pass concludes about the promotion in flight."""

    fail: str | None = None  # the reason to fail it
    verify: bool = False
    soak_left: float | None = None  # seconds until it may be verified
    notes: list[str] = field(default_factory=list)


def decide_promotion(view: TargetView, *, soak_seconds: float, now: datetime) -> Verdict:
    """Degraded after the sync fails the promotion; Healthy for the soak verifies it."""
    if view.promotion_phase != PromotionPhase.SYNCED:
        return Verdict()
    if view.health == Health.DEGRADED:
        return Verdict(fail=f"{view.health} after sync")
    if view.health != Health.HEALTHY or view.healthy_since is None:
        return Verdict()
    left = soak_seconds - (now - view.healthy_since).total_seconds()
    if left <= 0:
        return Verdict(verify=True)
    return Verdict(soak_left=left)


def next_wake(
    view: TargetView, verdict: Verdict, *, health_interval: float, drift_interval: float
) -> float:
    """Seconds until the next pass unless something wakes the worker earlier."""
    if verdict.soak_left is not None:
        return max(min(verdict.soak_left, drift_interval), 0.01)
    in_flight = view.promotion_phase in (PromotionPhase.STARTED, PromotionPhase.SYNCED)
    if in_flight or view.health in (Health.PROGRESSING, Health.MISSING, Health.UNKNOWN):
        return health_interval
    return drift_interval
