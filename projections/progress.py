"""A promotion's progress: how far the sync of its release, its target's health and its soak
got. Pure.

Where it sits: between `projections.queries.promotion_events` (a promotion's events and its
target's while it ran, oldest first) and the promotion the API answers
(`api.reads.promotion_progress`), which `baton promote --wait` follows. No single event
records it: it is folded from the sync events of the promotion's release and the health
changes after its sync, with the soak counted as the Target aggregate counts it (healthy
since, after the release synced). A sync records its objects when it starts (how many) and
when it ends (each one): while it runs, none of them counts as applied yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.domain.enums import Health
from engine.domain.vocabulary import EventType

Event = Mapping[str, Any]
#: what a sync did to an object it took away, rather than applied
_PRUNED = "pruned"


@dataclass
class Soak:
    """The soak as the Target aggregate counts it: healthy since, after the promotion's
    release synced (another release's sync, or any health but Healthy, starts it over)."""

    release: str | None = None
    synced: bool = False
    since: datetime | None = None

    def see(self, event: Event) -> None:
        """Take the next of the promotion's events into account."""
        kind, data = event["type"], event.get("data") or {}
        if kind == EventType.PROMOTION_REQUESTED:
            self.release = data.get("release")
        elif kind == EventType.SYNC_SUCCEEDED:
            if data.get("release") != self.release:
                self.synced, self.since = False, None
            elif not self.synced:  # the first sync of the release: its soak starts afresh
                self.synced, self.since = True, None
        elif kind == EventType.HEALTH_CHANGED and self.synced:
            if data.get("health") != Health.HEALTHY:
                self.since = None
            elif self.since is None:
                self.since = event["recorded_at"]


@dataclass
class _Fold:
    """The progress seen so far, one event after another."""

    soak: Soak = field(default_factory=Soak)
    objects_total: int | None = None
    objects_applied: int | None = None
    sync_error: str | None = None
    health: str | None = None
    health_reasons: list[str] = field(default_factory=list)

    def see(self, event: Event) -> None:
        self.soak.see(event)
        kind, data = event["type"], event.get("data") or {}
        ours = data.get("release") == self.soak.release
        if kind == EventType.SYNC_STARTED and ours:
            self.objects_total = int(data.get("object_count") or 0)
            self.objects_applied, self.sync_error = 0, None
        elif kind == EventType.SYNC_SUCCEEDED and ours:
            applied = [o for o in data.get("objects") or [] if o.get("action") != _PRUNED]
            self.objects_applied, self.sync_error = len(applied), None
            if self.objects_total is None:
                self.objects_total = len(applied)
        elif kind == EventType.SYNC_FAILED and ours:
            self.sync_error = (
                f"{data.get('object', '')}: {data.get('reason', '')}: {data.get('message', '')}"
            )
        elif kind == EventType.SYNC_ABANDONED and ours:
            self.sync_error = f"sync abandoned: {data.get('reason', '')}"
        elif kind == EventType.HEALTH_CHANGED and self.soak.synced:
            self.health = str(data.get("health") or Health.UNKNOWN)
            self.health_reasons = list(data.get("reasons") or [])


def promotion_progress(
    events: Iterable[Event], *, soak: timedelta | None, now: datetime
) -> dict[str, Any]:
    """The progress of the promotion whose events these are (oldest first): objects applied
    of the sync's total, the sync's error, the health since its release synced, and the
    soak (`soak` is the environment's soak time, None when unknown)."""
    fold = _Fold()
    for event in events:
        fold.see(event)
    since = fold.soak.since
    left = None
    if since is not None and soak is not None:
        left = max(soak - (now - since), timedelta(0)).total_seconds()
    return {
        "objects_total": fold.objects_total,
        "objects_applied": fold.objects_applied,
        "sync_error": fold.sync_error,
        "health": fold.health,
        "health_reasons": fold.health_reasons,
        "healthy_since": since,
        "soak_seconds": soak.total_seconds() if soak is not None else None,
        "soak_left_seconds": left,
    }
