"""A promotion's timeline: its events, and its target's while it ran, as entries a person
reads. Pure.

Where it sits: between `api.reads.promotion_events` (rows of the log, oldest first) and
the promotion page's timeline fragment. Each event type has one small function that
returns its entry; the soak, which no single event records, is read from the health
changes after the sync of the promotion's release (as the Target aggregate counts it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.domain.enums import Health, PromotionKind
from engine.domain.ids import short_sha
from engine.domain.policy import format_duration
from engine.domain.vocabulary import EventType
from projections.progress import Soak

Event = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ObjectLine:
    """One object a sync applied, and what it did to it."""

    action: str
    kind: str
    name: str
    attempts: int


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One line of the timeline."""

    kind: str
    title: str
    at: datetime
    actor: str = ""
    detail: str = ""
    tone: str = "none"
    trace_id: str | None = None
    #: the soak's end (expected while it runs)
    until: datetime | None = None
    duration: timedelta | None = None
    objects: tuple[ObjectLine, ...] = field(default_factory=tuple)


_HEALTH_TONE: dict[str, str] = {
    Health.HEALTHY: "good",
    Health.PROGRESSING: "busy",
    Health.SUSPENDED: "warn",
    Health.MISSING: "bad",
    Health.DEGRADED: "bad",
}


def _entry(event: Event, kind: str, title: str, **fields: Any) -> Entry:
    return Entry(
        kind=kind,
        title=title,
        at=event["recorded_at"],
        actor=event.get("actor") or "",
        trace_id=event.get("trace_id"),
        **fields,
    )


def _requested(event: Event, data: Mapping[str, Any]) -> Entry:
    kind = data.get("kind")
    who = data.get("requested_by", "")
    if kind == PromotionKind.ROLLBACK:
        title = f"rollback requested by {who}"
    elif kind == PromotionKind.AUTO:
        title = "requested by auto-promotion"
    else:
        title = f"requested by {who}"
    facts = []
    if data.get("from_environment"):
        facts.append(f"from {data['from_environment']}")
    required = int(data.get("approvals_required") or 0)
    facts.append(f"needs {required} approval{'s' if required != 1 else ''}" if required else "")
    reason = data.get("reason") or ""
    detail = "; ".join(f for f in (reason, *facts) if f)
    return _entry(event, "requested", title, detail=detail, tone="busy")


def _decision(kind: str, tone: str) -> Callable[[Event, Mapping[str, Any]], Entry]:
    def entry(event: Event, data: Mapping[str, Any]) -> Entry:
        detail = data.get("comment") or data.get("reason") or ""
        return _entry(event, kind, f"{kind} by {data.get('by', '')}", detail=detail, tone=tone)

    return entry


def _overridden(event: Event, data: Mapping[str, Any]) -> Entry:
    rules = ", ".join(data.get("rules") or [])
    title = f"policy overridden by {data.get('by', '')}: {rules}"
    return _entry(event, "overridden", title, detail=data.get("reason") or "", tone="warn")


def _object(line: Mapping[str, Any]) -> ObjectLine:
    namespace, name = line.get("namespace") or "", line.get("name") or ""
    return ObjectLine(
        action=str(line.get("action") or ""),
        kind=str(line.get("kind") or ""),
        name=f"{namespace}/{name}" if namespace else name,
        attempts=int(line.get("attempts") or 0),
    )


def _synced(event: Event, data: Mapping[str, Any]) -> Entry:
    objects = tuple(_object(o) for o in data.get("objects") or [])
    title = f"synced {short_sha(data.get('release') or '')}: {len(objects)} objects"
    return _entry(event, "synced", title, tone="good", objects=objects)


def _sync_failed(event: Event, data: Mapping[str, Any]) -> Entry:
    title = f"sync failed at {data.get('object', '')}: {data.get('reason', '')}"
    attempts = data.get("attempts")
    detail = data.get("message") or ""
    if attempts:
        detail = f"{detail} (after {attempts} attempts)" if detail else f"{attempts} attempts"
    return _entry(event, "sync-failed", title, detail=detail, tone="bad")


def _health(event: Event, data: Mapping[str, Any]) -> Entry:
    health = str(data.get("health") or Health.UNKNOWN)
    title = f"health {data.get('previous', '')} → {health}"
    detail = "; ".join(data.get("reasons") or [])
    tone = _HEALTH_TONE.get(health, "none")  # a StrEnum key matches its text
    return _entry(event, "health", title, detail=detail, tone=tone)


def _simple(
    kind: str, tone: str, title: Callable[[Mapping[str, Any]], str], detail: str = ""
) -> Callable[[Event, Mapping[str, Any]], Entry]:
    def entry(event: Event, data: Mapping[str, Any]) -> Entry:
        return _entry(event, kind, title(data), detail=data.get(detail) or "", tone=tone)

    return entry


_ENTRIES: dict[str, Callable[[Event, Mapping[str, Any]], Entry]] = {
    EventType.PROMOTION_REQUESTED: _requested,
    EventType.POLICY_OVERRIDDEN: _overridden,
    EventType.PROMOTION_APPROVED: _decision("approved", "good"),
    EventType.PROMOTION_REJECTED: _decision("rejected", "bad"),
    EventType.PROMOTION_CANCELLED: _decision("cancelled", "warn"),
    EventType.PROMOTION_STARTED: _simple(
        "started", "busy", lambda d: f"started: {short_sha(d.get('release') or '')} is desired"
    ),
    EventType.SYNC_STARTED: _simple(
        "sync-started", "busy", lambda d: f"sync started: {d.get('object_count', 0)} objects"
    ),
    EventType.SYNC_SUCCEEDED: _synced,
    EventType.SYNC_FAILED: _sync_failed,
    EventType.SYNC_ABANDONED: _simple(
        "sync-abandoned", "warn", lambda d: "sync abandoned", detail="reason"
    ),
    EventType.DRIFT_DETECTED: _simple(
        "drift", "warn", lambda d: f"drift detected: {len(d.get('objects') or [])} objects"
    ),
    EventType.DRIFT_CORRECTED: _simple(
        "drift-corrected", "good", lambda d: f"drift corrected: {len(d.get('objects') or [])}"
    ),
    EventType.HEALTH_CHANGED: _health,
    EventType.PROMOTION_VERIFIED: _simple(
        "verified", "good", lambda d: f"verified {short_sha(d.get('release') or '')}"
    ),
    EventType.PROMOTION_FAILED: _simple("failed", "bad", lambda d: "failed", detail="reason"),
    EventType.PROMOTION_SUPERSEDED: _simple(
        "superseded", "warn", lambda d: f"superseded by rollback {d.get('by_promotion', '')}"
    ),
    EventType.RELEASE_ROLLED_BACK: _simple(
        "rolled-back", "warn", lambda d: f"rolled back {short_sha(d.get('release') or '')}"
    ),
}


def timeline(
    events: Iterable[Event], *, soak: timedelta | None = None, now: datetime | None = None
) -> list[Entry]:
    """The entries of a promotion's events (oldest first, as `promotion_events` reads them).

    `soak` is the environment's soak time: while the promotion soaks, an entry says until
    when; once verified, it says how long the release was healthy first.
    """
    entries: list[Entry] = []
    state = Soak()
    #: where the soak's entry goes: after the health change that began it
    index: int | None = None
    ended: datetime | None = None
    verified: datetime | None = None
    for event in events:
        data = event.get("data") or {}
        make = _ENTRIES.get(event["type"])
        if make is None:
            continue
        entries.append(make(event, data))
        began = state.since
        state.see(event)
        if state.since is None:
            index = None
        elif began is None:
            index = len(entries) - 1
        if event["type"] == EventType.PROMOTION_VERIFIED:
            verified = event["recorded_at"]
        elif event["type"] in _ENDS_WITHOUT_SOAK:
            ended = event["recorded_at"]
    if state.since is None or index is None or ended is not None:
        return entries
    if verified is not None:
        took = verified - state.since
        title = f"soaked: healthy for {_text(took)}"
        entry = Entry(kind="soak", title=title, at=state.since, until=verified, duration=took)
    elif soak is not None:
        until = state.since + soak
        left = max(until - now, timedelta(0)) if now is not None else None
        title = f"soaking: healthy for {_text(soak)}" + (
            f", {_text(left)} left" if left is not None else ""
        )
        entry = Entry(
            kind="soak", title=title, at=state.since, until=until, duration=soak, tone="busy"
        )
    else:
        return entries
    entries.insert(index + 1, entry)
    return entries


_ENDS_WITHOUT_SOAK = frozenset(
    {
        EventType.PROMOTION_FAILED,
        EventType.PROMOTION_SUPERSEDED,
        EventType.PROMOTION_REJECTED,
        EventType.PROMOTION_CANCELLED,
    }
)


def _text(span: timedelta) -> str:
    return format_duration(timedelta(seconds=round(span.total_seconds())))
