"""A target's state as a pure fold over its events: the one place its rules are written.

`evolve(state, type, event)` gives the state after one (current-version) event. The
Target aggregate applies it to every event it records or loads; the `state` projection
applies it to the event rows of each batch and stores the fields marked `SHOWN`, as
columns of the same names. The projection's set-wise rebuild (SQL) cannot call it: a
property test holds the three to the same rows.

Fields the read models do not show (the soak clock, the verified releases, drift...)
are the aggregate's alone: no rule for a shown field may read them, since a projection
restores a state from its rows, and a projection may leave out the event fields only
they read (`objects`, `reasons`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.domain.enums import Health, PromotionKind, PromotionPhase, SyncStatus
from engine.domain.promotion import SHOWN, Approval, OpenSync, Promotion, shown_fields
from engine.domain.vocabulary import EventType

#: an event's fields by name (an aggregate event's attributes, or a projection's row)
Event = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class TargetState:
    """An app × environment: what should run there, what does, and how it is doing."""

    app: str
    environment: str
    desired_release: str | None = field(default=None, metadata=SHOWN)
    desired_number: int = 0
    applied_release: str | None = field(default=None, metadata=SHOWN)
    health: Health = field(default=Health.UNKNOWN, metadata=SHOWN)
    health_reasons: list[str] = field(default_factory=list)
    healthy_since: datetime | None = None
    sync_status: SyncStatus = field(default=SyncStatus.UNKNOWN, metadata=SHOWN)
    last_verified_release: str | None = field(default=None, metadata=SHOWN)
    #: the target's latest promotion, in flight or finished
    promotion: Promotion | None = None
    #: releases verified here, the latest last
    verified: list[str] = field(default_factory=list)
    rolled_back: frozenset[str] = frozenset()
    open_sync: OpenSync | None = None
    inventory: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)

    @property
    def in_flight(self) -> Promotion | None:
        """The promotion that has not finished, if any."""
        p = self.promotion
        return p if p is not None and p.phase.is_in_flight else None

    def shown(self) -> dict[str, Any]:
        """The shown fields as a read model stores them (enums by value)."""
        values = {name: getattr(self, name) for name in TARGET_SHOWN}
        return {k: v.value if isinstance(v, Health | SyncStatus) else v for k, v in values.items()}

    @classmethod
    def from_shown(
        cls, app: str, environment: str, row: Mapping[str, Any], promotion: Promotion | None
    ) -> TargetState:
        """The state a read model's row shows; what it does not show is left default."""
        values = {name: row[name] for name in TARGET_SHOWN}
        values.update(health=Health(row["health"]), sync_status=SyncStatus(row["sync_status"]))
        return cls(app=app, environment=environment, promotion=promotion, **values)


TARGET_SHOWN = shown_fields(TargetState)
PROMOTION_SHOWN = shown_fields(Promotion)

#: the events that end a promotion, the phase each ends it in, and the outcome it records
ENDS: dict[EventType, tuple[PromotionPhase, Callable[[Event], str]]] = {
    EventType.PROMOTION_VERIFIED: (PromotionPhase.COMPLETED, lambda e: "verified"),
    EventType.PROMOTION_FAILED: (PromotionPhase.FAILED, lambda e: str(e["reason"])),
    EventType.PROMOTION_REJECTED: (
        PromotionPhase.REJECTED,
        lambda e: f"rejected by {e['by']}: {e['reason']}",
    ),
    EventType.PROMOTION_CANCELLED: (
        PromotionPhase.CANCELLED,
        lambda e: f"cancelled by {e['by']}: {e['reason']}",
    ),
    EventType.PROMOTION_SUPERSEDED: (
        PromotionPhase.SUPERSEDED,
        lambda e: f"superseded by {e['by_promotion']}",
    ),
}


def evolve(state: TargetState | None, type: EventType, event: Event) -> TargetState:
    """The state after `event` (of `type`); a target's stream starts with its creation."""
    if type is EventType.TARGET_CREATED:
        return TargetState(app=event["app"], environment=event["environment"])
    if state is None:
        raise ValueError(f"a {type} event before the target was created")
    rule = _RULES.get(type)
    return rule(state, event) if rule is not None else state


def _requested(s: TargetState, e: Event) -> TargetState:
    promotion = Promotion(
        id=e["promotion_id"],
        release=e["release"],
        release_number=e["release_number"],
        kind=PromotionKind(e["kind"]),
        requested_by=e["requested_by"],
        requested_at=e["at"],
        reason=e["reason"],
        from_environment=e["from_environment"],
        approvals_required=e["approvals_required"],
        previous_release=s.desired_release,
    )
    return replace(s, promotion=promotion)


def _current(s: TargetState, e: Event) -> Promotion | None:
    """The promotion an event names, when it is the target's latest (else the event is
    about a promotion this state no longer holds, and changes nothing of it)."""
    p = s.promotion
    return p if p is not None and p.id == e["promotion_id"] else None


def _overridden(s: TargetState, e: Event) -> TargetState:
    if (p := _current(s, e)) is None:
        return s
    rules = tuple(e["rules"])
    return replace(
        s, promotion=p.with_(overrides=rules, override_by=e["by"], override_reason=e["reason"])
    )


def _approved(s: TargetState, e: Event) -> TargetState:
    if (p := _current(s, e)) is None:
        return s
    approval = Approval(by=e["by"], at=e["at"], comment=e["comment"])
    return replace(s, promotion=p.with_(approvals=(*p.approvals, approval)))


def _started(s: TargetState, e: Event) -> TargetState:
    if (p := _current(s, e)) is None:
        return s
    number = s.desired_number
    if p.kind != PromotionKind.ROLLBACK:
        number = max(number, p.release_number)
    return replace(
        s,
        promotion=p.with_(phase=PromotionPhase.STARTED, started_at=e["at"]),
        desired_release=p.release,
        desired_number=number,
        sync_status=SyncStatus.OUT_OF_SYNC,
    )


def _ended(type: EventType) -> Callable[[TargetState, Event], TargetState]:
    phase, outcome = ENDS[type]

    def rule(s: TargetState, e: Event) -> TargetState:
        if (p := _current(s, e)) is None:
            return s
        ended = p.with_(phase=phase, finished_at=e["at"], outcome=outcome(e))
        return replace(s, promotion=ended)

    return rule


def _verified(s: TargetState, e: Event) -> TargetState:
    s = _ended(EventType.PROMOTION_VERIFIED)(s, e)
    release = e["release"]
    # a release that proves itself again is no longer held back
    return replace(
        s,
        verified=[*(r for r in s.verified if r != release), release],
        last_verified_release=release,
        rolled_back=s.rolled_back - {release},
    )


def _rolled_back(s: TargetState, e: Event) -> TargetState:
    return replace(s, rolled_back=s.rolled_back | {e["release"]})


def _sync_started(s: TargetState, e: Event) -> TargetState:
    open_sync = OpenSync(id=e["sync_id"], release=e["release"], started_at=e["at"])
    return replace(s, open_sync=open_sync, sync_status=SyncStatus.SYNCING)


def _sync_closed(status: SyncStatus) -> Callable[[TargetState, Event], TargetState]:
    def rule(s: TargetState, e: Event) -> TargetState:
        return replace(s, open_sync=None, sync_status=status)

    return rule


def _in_sync(applied: str | None, desired: str | None) -> SyncStatus:
    return SyncStatus.SYNCED if applied == desired else SyncStatus.OUT_OF_SYNC


def _synced(s: TargetState, e: Event) -> TargetState:
    release = e["release"]
    objects = e.get("objects") or []
    promotion = s.promotion
    p = s.in_flight
    if p is not None and p.phase == PromotionPhase.STARTED and p.release == release:
        promotion = p.with_(phase=PromotionPhase.SYNCED, synced_at=e["at"])
    return replace(
        s,
        open_sync=None,
        inventory=[o for o in objects if o.get("action") != "pruned"],
        applied_release=release,
        sync_status=_in_sync(release, s.desired_release),
        promotion=promotion,
        # health seen before this sync says nothing about a release just applied (a
        # re-apply of the running release, e.g. to correct drift, keeps the soak going)
        healthy_since=s.healthy_since if release == s.applied_release else None,
    )


def _drift_detected(s: TargetState, e: Event) -> TargetState:
    return replace(s, drift=e.get("objects") or [], sync_status=SyncStatus.OUT_OF_SYNC)


def _drift_corrected(s: TargetState, e: Event) -> TargetState:
    return replace(s, drift=[], sync_status=_in_sync(s.applied_release, s.desired_release))


def _health_changed(s: TargetState, e: Event) -> TargetState:
    health = Health(e["health"])
    return replace(
        s,
        health=health,
        health_reasons=e.get("reasons") or [],
        healthy_since=e["at"] if health == Health.HEALTHY else None,
    )


_RULES: dict[EventType, Callable[[TargetState, Event], TargetState]] = {
    EventType.PROMOTION_REQUESTED: _requested,
    EventType.POLICY_OVERRIDDEN: _overridden,
    EventType.PROMOTION_APPROVED: _approved,
    EventType.PROMOTION_STARTED: _started,
    **{t: _ended(t) for t in ENDS if t is not EventType.PROMOTION_VERIFIED},
    EventType.PROMOTION_VERIFIED: _verified,
    EventType.RELEASE_ROLLED_BACK: _rolled_back,
    EventType.SYNC_STARTED: _sync_started,
    EventType.SYNC_SUCCEEDED: _synced,
    EventType.SYNC_FAILED: _sync_closed(SyncStatus.FAILED),
    EventType.SYNC_ABANDONED: _sync_closed(SyncStatus.OUT_OF_SYNC),
    EventType.DRIFT_DETECTED: _drift_detected,
    EventType.DRIFT_CORRECTED: _drift_corrected,
    EventType.HEALTH_CHANGED: _health_changed,
}
