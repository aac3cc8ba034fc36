"""The `audit` projection: each event as a row a person can read (`sql/audit.sql`).

Who did what, where, when, and the trace it belongs to. Event types it does not know
still get a row, with a generic summary: the audit never skips an event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import asyncpg

from projections.base import EventRow, Projection, app_of, short_type, target_of, trace_id
from projections.rows import copy_rows

COLUMNS = (
    "position",
    "recorded_at",
    "app",
    "environment",
    "actor",
    "action",
    "event_type",
    "summary",
    "trace_id",
    "correlation_id",
    "stream_id",
)


def _short(sha: Any) -> str:
    return str(sha)[:12] if sha else "-"


def _actions(d: dict[str, Any]) -> str:
    """`: 2 created, 1 pruned, 3 retries` from a SyncSucceeded's objects."""
    counts: dict[str, int] = {}
    retries = 0
    for o in d.get("objects", []):
        counts[str(o.get("action"))] = counts.get(str(o.get("action")), 0) + 1
        retries += max(int(o.get("attempts", 1)) - 1, 0)
    parts = [f"{n} {action}" for action, n in sorted(counts.items())]
    if retries:
        parts.append(f"{retries} retries")
    return ": " + ", ".join(parts) if parts else ""


_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "App.Registered": lambda d: f"registered app {d.get('name')}",
    "App.ConfigChanged": lambda d: (
        "changed config: " + ", ".join(str(c.get("path")) for c in d.get("diff", [])[:5])
    ),
    "App.CommitObserved": lambda d: (
        f"saw commit {_short(d['sha'])} by {d.get('author')}: "
        + str(d.get("message", "")).splitlines()[0][:80]
        if d.get("message")
        else ""
    ),
    "App.ReleaseCreated": lambda d: f"created release #{d.get('number')} from {_short(d['sha'])}",
    "App.ReleaseRejected": lambda d: (
        f"rejected {_short(d['sha'])}: {d.get('file')}:{d.get('line')}: {d.get('reason')}"
    ),
    "App.HistoryRewritten": lambda d: (
        f"branch rewritten: {_short(d.get('old_head'))} → {_short(d.get('new_head'))}"
    ),
    "Target.Created": lambda d: "target created",
    "Target.PromotionRequested": lambda d: (
        f"requested {d.get('kind')} promotion {d['promotion_id']} of "
        f"{_short(d['release'])}" + (f": {d['reason']}" if d.get("reason") else "")
    ),
    "Target.PolicyOverridden": lambda d: (
        f"{d.get('by')} overrode "
        f"{', '.join(d.get('rules', []))} for {d['promotion_id']}: {d.get('reason')}"
    ),
    "Target.PromotionApproved": lambda d: f"{d.get('by')} approved {d['promotion_id']}",
    "Target.PromotionStarted": lambda d: (
        f"started {d['promotion_id']}: desired release is now {_short(d.get('release'))}"
    ),
    "Target.PromotionRejected": lambda d: (
        f"{d.get('by')} rejected {d['promotion_id']}: {d.get('reason')}"
    ),
    "Target.PromotionCancelled": lambda d: (
        f"{d.get('by')} cancelled {d['promotion_id']}: {d.get('reason')}"
    ),
    "Target.PromotionSuperseded": lambda d: (
        f"{d['promotion_id']} superseded by {d.get('by_promotion')}"
    ),
    "Target.ReleaseRolledBack": lambda d: (
        f"rolled back {_short(d.get('release'))} ({d.get('promotion_id')})"
    ),
    "Target.SyncSucceeded": lambda d: (
        f"applied {_short(d.get('release'))} (sync {d.get('sync_id')})" + _actions(d)
    ),
    "Target.SyncStarted": lambda d: (
        f"started sync {d.get('sync_id')} of {_short(d.get('release'))}: "
        f"{d.get('object_count')} objects ({d.get('reason')})"
    ),
    "Target.SyncFailed": lambda d: (
        f"sync {d.get('sync_id')} failed at {d.get('object')}: {d.get('reason')}: "
        f"{d.get('message')}"
        + (f" (after {d['attempts']} attempts)" if d.get("attempts", 1) > 1 else "")
    ),
    "Target.SyncAbandoned": lambda d: (
        f"abandoned sync {d.get('sync_id')} of {_short(d.get('release'))}: {d.get('reason')}"
    ),
    "Target.DriftDetected": lambda d: (
        f"drift in {len(d.get('objects', []))} objects: "
        + "; ".join(
            f"{o.get('object')} ({', '.join(o.get('fields', [])[:3])})"
            for o in d.get("objects", [])[:3]
        )
    ),
    "Target.DriftCorrected": lambda d: (
        f"corrected drift of {', '.join(d.get('objects', [])[:3])} (sync {d.get('sync_id')})"
    ),
    "Target.HealthChanged": lambda d: (
        f"health {d.get('previous')} → {d.get('health')}"
        + (f": {'; '.join(d['reasons'][:3])}" if d.get("reasons") else "")
    ),
    "Target.PromotionVerified": lambda d: (
        f"verified {_short(d.get('release'))} ({d['promotion_id']})"
    ),
    "Target.PromotionFailed": lambda d: f"{d['promotion_id']} failed: {d.get('reason')}",
}


def summarise(event_type: str, data: dict[str, Any]) -> str:
    """One line saying what an event means."""
    describe = _SUMMARIES.get(event_type)
    if describe is not None:
        try:
            return describe(data)
        except (KeyError, TypeError, AttributeError, IndexError):
            pass  # an unexpected shape still gets the generic line below
    fields = ", ".join(f"{k}={v}" for k, v in list(data.items())[:4] if k != "timestamp")
    return f"{short_type(event_type)} {fields}".strip()


def audit_row(e: EventRow) -> tuple[Any, ...]:
    """The audit row of one event."""
    metadata = e["metadata"]
    target = target_of(e["stream_id"])
    return (
        e["position"],
        e["recorded_at"],
        app_of(e["stream_id"]),
        target[1] if target else e["data"].get("environment"),
        metadata.get("actor", ""),
        short_type(e["type"]),
        e["type"],
        summarise(e["type"], e["data"]),
        trace_id(metadata),
        metadata.get("correlation_id"),
        e["stream_id"],
    )


class AuditProjection(Projection):
    """Every event, readable."""

    name: ClassVar[str] = "audit"
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]] = ("audit",)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[EventRow]) -> None:
        """COPY one row per event."""
        await copy_rows(conn, "audit", COLUMNS, [audit_row(e) for e in events])
