"""The `state` projection: targets, promotions, releases and lineage (`sql/state.sql`).

Mirrors what the Target and App aggregates decide, from their events alone, so the API
answers "what runs where, who promoted it, with whose approval" without loading
aggregates. The handlers here apply each batch the runner reads; a rebuild computes the
same rows set-wise inside Postgres (`state_bulk`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar

import asyncpg

from engine.domain.enums import Health, PromotionPhase, SyncStatus
from projections import state_bulk
from projections.base import EventRow, RowProjection, target_of
from projections.rows import KeyedRows, Row

TARGET_COLUMNS = (
    "app",
    "environment",
    "desired_release",
    "applied_release",
    "health",
    "sync_status",
    "promotion_id",
    "promotion_release",
    "promotion_phase",
    "last_verified_release",
    "last_position",
    "last_changed_at",
    "last_actor",
)
PROMOTION_COLUMNS = (
    "id",
    "app",
    "environment",
    "release",
    "release_number",
    "kind",
    "phase",
    "requested_by",
    "requested_at",
    "reason",
    "from_environment",
    "approvals_required",
    "approvals",
    "overrides",
    "override_by",
    "override_reason",
    "started_at",
    "synced_at",
    "finished_at",
    "outcome",
    "trace_id",
    "last_position",
)
RELEASE_COLUMNS = (
    "app",
    "sha",
    "number",
    "digest",
    "message",
    "author",
    "committed_at",
    "created_at",
    "created_position",
)
LINEAGE_COLUMNS = (
    "app",
    "sha",
    "environment",
    "promotion_id",
    "kind",
    "requested_by",
    "requested_at",
    "approvals",
    "started_at",
    "synced_at",
    "verified_at",
    "soak_seconds",
    "outcome",
    "rolled_back_at",
    "rolled_back_by",
    "rolled_back_reason",
)

# an event with the target its stream belongs to (None for app streams)
Located = tuple[EventRow, tuple[str, str] | None]


def _time(value: datetime | str | None) -> datetime | None:
    # times come as timestamptz columns (see COLUMNS); older shapes may carry text
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class _Batch:
    """The rows one batch works on, and the handlers that change them."""

    def __init__(self) -> None:
        self.targets = KeyedRows("targets", ("app", "environment"), TARGET_COLUMNS)
        self.promotions = KeyedRows("promotions", ("id",), PROMOTION_COLUMNS)
        self.releases = KeyedRows("releases", ("app", "sha"), RELEASE_COLUMNS)
        self.lineage = KeyedRows(
            "release_environments", ("app", "sha", "environment"), LINEAGE_COLUMNS
        )
        self.handlers: dict[str, Callable[[EventRow, str, str, Row], None]] = {
            "Target.Created": lambda *_: None,
            "Target.PromotionRequested": self.requested,
            "Target.PolicyOverridden": self.overridden,
            "Target.PromotionApproved": self.approved,
            "Target.PromotionStarted": self.started,
            "Target.SyncSucceeded": self.synced,
            "Target.HealthChanged": self.health_changed,
            "Target.PromotionVerified": self.verified,
            "Target.ReleaseRolledBack": self.rolled_back,
            "Target.SyncStarted": self.sync_status(SyncStatus.SYNCING),
            "Target.SyncFailed": self.sync_status(SyncStatus.FAILED),
            "Target.SyncAbandoned": self.sync_status(SyncStatus.OUT_OF_SYNC),
            "Target.DriftDetected": self.sync_status(SyncStatus.OUT_OF_SYNC),
            "Target.DriftCorrected": self.drift_corrected,
            **{name: self.finished for name in state_bulk.FINISHED},
        }

    def all(self) -> tuple[KeyedRows, ...]:
        return (self.targets, self.promotions, self.releases, self.lineage)

    async def prefetch(self, conn: asyncpg.Connection, events: Sequence[Located]) -> None:
        """Load every existing row the batch will touch, in a few queries."""
        targets = {t for _, t in events if t is not None}
        promotions = {
            (pid,)
            for e, t in events
            if t is not None and (pid := e.get("promotion_id")) is not None
        }
        await self.targets.load(conn, targets)
        # a sync or a health change names no promotion, yet moves the target's current one
        promotions |= {
            (row["promotion_id"],)
            for t in targets
            if (row := self.targets.get(t)) is not None and row["promotion_id"] is not None
        }
        await self.promotions.load(conn, promotions)
        lineage = set()
        for e, t in events:
            if t is None:
                continue
            data = e
            release = data.get("release")
            if release is None and (pid := data.get("promotion_id")) is not None:
                promotion = self.promotions.get((pid,))
                release = promotion["release"] if promotion else None
            if release is not None:
                lineage.add((t[0], release, t[1]))
        await self.lineage.load(conn, lineage)

    # --- handlers: (event, app, environment, target row) ----------------------------

    def requested(self, e: EventRow, app: str, env: str, target: Row) -> None:
        d = e
        at = _time(d["at"])
        self.promotions.put(
            {
                "id": d["promotion_id"],
                "app": app,
                "environment": env,
                "release": d["release"],
                "release_number": d["release_number"],
                "kind": d["kind"],
                "phase": PromotionPhase.AWAITING_APPROVAL.value,
                "requested_by": d["requested_by"],
                "requested_at": at,
                "reason": d["reason"],
                "from_environment": d["from_environment"],
                "approvals_required": d["approvals_required"],
                "approvals": [],
                "overrides": [],
                "override_by": None,
                "override_reason": None,
                "started_at": None,
                "synced_at": None,
                "finished_at": None,
                "outcome": None,
                "trace_id": e["trace_id"],
                "last_position": e["position"],
            }
        )
        target.update(
            promotion_id=d["promotion_id"],
            promotion_release=d["release"],
            promotion_phase=PromotionPhase.AWAITING_APPROVAL.value,
        )
        self.lineage.put(
            {
                "app": app,
                "sha": d["release"],
                "environment": env,
                "promotion_id": d["promotion_id"],
                "kind": d["kind"],
                "requested_by": d["requested_by"],
                "requested_at": at,
                "approvals": [],
                "started_at": None,
                "synced_at": None,
                "verified_at": None,
                "soak_seconds": None,
                "outcome": None,
                "rolled_back_at": None,
                "rolled_back_by": None,
                "rolled_back_reason": None,
            }
        )

    def _promotion(self, e: EventRow) -> Row:
        row = self.promotions.touch((e["promotion_id"],))
        row["last_position"] = e["position"]
        return row

    def _lineage(self, app: str, env: str, promotion: Row) -> Row | None:
        row = self.lineage.get((app, promotion["release"], env))
        if row is None or row["promotion_id"] != promotion["id"]:
            return None
        return self.lineage.touch((app, promotion["release"], env))

    def overridden(self, e: EventRow, app: str, env: str, target: Row) -> None:
        d = e
        self._promotion(e).update(
            overrides=d["rules"], override_by=d["by"], override_reason=d["reason"]
        )

    def approved(self, e: EventRow, app: str, env: str, target: Row) -> None:
        d = e
        approval = {"by": d["by"], "at": d["at"], "comment": d.get("comment", "")}
        promotion = self._promotion(e)
        promotion["approvals"] = [*promotion["approvals"], approval]
        if (lineage := self._lineage(app, env, promotion)) is not None:
            lineage["approvals"] = promotion["approvals"]

    def started(self, e: EventRow, app: str, env: str, target: Row) -> None:
        at = _time(e["at"])
        promotion = self._promotion(e)
        promotion.update(phase=PromotionPhase.STARTED.value, started_at=at)
        target.update(
            desired_release=promotion["release"],
            sync_status=SyncStatus.OUT_OF_SYNC,
            promotion_phase=PromotionPhase.STARTED.value,
        )
        if (lineage := self._lineage(app, env, promotion)) is not None:
            lineage["started_at"] = at

    def synced(self, e: EventRow, app: str, env: str, target: Row) -> None:
        release, at = e["release"], _time(e["at"])
        in_sync = release == target["desired_release"]
        target.update(
            applied_release=release,
            sync_status=SyncStatus.SYNCED if in_sync else SyncStatus.OUT_OF_SYNC,
        )
        pid = target["promotion_id"]
        if (
            target["promotion_phase"] == PromotionPhase.STARTED
            and target["promotion_release"] == release
            and self.promotions.get((pid,)) is not None
        ):
            promotion = self.promotions.touch((pid,))
            promotion.update(
                phase=PromotionPhase.SYNCED.value, synced_at=at, last_position=e["position"]
            )
            target["promotion_phase"] = PromotionPhase.SYNCED.value
            if (lineage := self._lineage(app, env, promotion)) is not None:
                lineage["synced_at"] = at

    @staticmethod
    def sync_status(status: SyncStatus) -> Callable[[EventRow, str, str, Row], None]:
        """A handler that only sets the target's sync status (as the aggregate does)."""

        def handler(e: EventRow, app: str, env: str, target: Row) -> None:
            target["sync_status"] = status.value

        return handler

    def drift_corrected(self, e: EventRow, app: str, env: str, target: Row) -> None:
        in_sync = target["applied_release"] == target["desired_release"]
        target["sync_status"] = (SyncStatus.SYNCED if in_sync else SyncStatus.OUT_OF_SYNC).value

    def health_changed(self, e: EventRow, app: str, env: str, target: Row) -> None:
        target["health"] = e["health"]

    def verified(self, e: EventRow, app: str, env: str, target: Row) -> None:
        at = _time(e["at"])
        promotion = self._promotion(e)
        promotion.update(phase=PromotionPhase.COMPLETED.value, finished_at=at, outcome="verified")
        target.update(
            last_verified_release=e["release"],
            promotion_phase=PromotionPhase.COMPLETED.value,
        )
        if (lineage := self._lineage(app, env, promotion)) is not None:
            synced = lineage["synced_at"]
            lineage.update(
                verified_at=at,
                outcome="verified",
                soak_seconds=(at - synced).total_seconds() if at and synced else None,
            )

    def finished(self, e: EventRow, app: str, env: str, target: Row) -> None:
        d = e
        phase = state_bulk.FINISHED[e["type"]]
        outcome = {
            PromotionPhase.SUPERSEDED: lambda: f"superseded by {d.get('by_promotion')}",
            PromotionPhase.FAILED: lambda: str(d.get("reason", "")),
        }.get(phase, lambda: f"{phase.value} by {d.get('by')}: {d.get('reason', '')}")()
        promotion = self._promotion(e)
        promotion.update(phase=phase.value, finished_at=_time(d["at"]), outcome=outcome)
        if target["promotion_id"] == promotion["id"]:
            target["promotion_phase"] = phase.value
        if (lineage := self._lineage(app, env, promotion)) is not None:
            lineage["outcome"] = outcome

    def rolled_back(self, e: EventRow, app: str, env: str, target: Row) -> None:
        d = e
        row = self.lineage.get((app, d["release"], env))
        if row is None:
            return
        rollback = self.promotions.get((d["promotion_id"],))
        self.lineage.touch((app, d["release"], env)).update(
            rolled_back_at=e["recorded_at"],
            rolled_back_by=e["actor"],
            rolled_back_reason=rollback["reason"] if rollback else None,
        )

    def apply(self, events: Sequence[Located]) -> None:
        """Run every event through its handler."""
        last: dict[tuple[str, str], EventRow] = {}
        for e, t in events:
            kind = e["type"]
            if t is None:
                if kind == "App.ReleaseCreated":
                    self.release_created(e)
                continue
            target = self.targets.get(t) or self.targets.put(_new_target(*t, e))
            last[t] = e
            handler = self.handlers.get(kind)
            if handler is not None:
                handler(e, t[0], t[1], target)
        for t, e in last.items():
            self.targets.touch(t).update(
                last_position=e["position"],
                last_changed_at=e["recorded_at"],
                last_actor=e["actor"] or "",
            )

    def release_created(self, e: EventRow) -> None:
        d = e
        self.releases.put(
            {
                "app": e["stream_id"][4:],
                "sha": d["sha"],
                "number": d["number"],
                "digest": d["digest"],
                "message": d.get("message", ""),
                "author": d.get("author", ""),
                "committed_at": _time(d.get("committed_at")),
                "created_at": e["recorded_at"],
                "created_position": e["position"],
            }
        )


def _new_target(app: str, environment: str, e: EventRow) -> Row:
    return {
        "app": app,
        "environment": environment,
        "desired_release": None,
        "applied_release": None,
        "health": Health.UNKNOWN.value,
        "sync_status": SyncStatus.UNKNOWN.value,
        "promotion_id": None,
        "promotion_release": None,
        "promotion_phase": None,
        "last_verified_release": None,
        "last_position": e["position"],
        "last_changed_at": e["recorded_at"],
        "last_actor": e["actor"] or "",
    }


class StateProjection(RowProjection):
    """Targets, promotions, releases and lineage."""

    rows_wanted: ClassVar[str | None] = "stream_id LIKE 'target:%' OR type = 'App.ReleaseCreated'"
    # the fields the handlers read, extracted by Postgres: decoding whole documents in
    # Python would cost more than the handlers themselves during a replay
    columns: ClassVar[str] = """position, stream_id, type, recorded_at,
        metadata->>'actor' AS actor,
        substring(metadata->>'traceparent' from 4 for 32) AS trace_id,
        data->>'promotion_id' AS promotion_id, data->>'release' AS release,
        (data->>'at')::timestamptz AS at, data->>'by' AS by, data->>'reason' AS reason,
        data->>'comment' AS comment, data->>'health' AS health, data->>'kind' AS kind,
        (data->>'release_number')::int AS release_number,
        data->>'requested_by' AS requested_by, data->>'from_environment' AS from_environment,
        (data->>'approvals_required')::int AS approvals_required, data->'rules' AS rules,
        data->>'by_promotion' AS by_promotion, data->>'sha' AS sha,
        (data->>'number')::int AS number, data->>'digest' AS digest,
        data->>'message' AS message, data->>'author' AS author,
        (data->>'committed_at')::timestamptz AS committed_at"""
    name: ClassVar[str] = "state"
    version: ClassVar[int] = 4
    tables: ClassVar[tuple[str, ...]] = (
        "targets",
        "promotions",
        "releases",
        "release_environments",
    )

    async def load(self, conn: asyncpg.Connection, upto: int) -> int:
        """Fill the empty tables set-wise inside Postgres (see `state_bulk`)."""
        await state_bulk.load(conn, upto)
        return upto

    async def apply(self, conn: asyncpg.Connection, events: Sequence[EventRow]) -> None:
        """Prefetch the rows the batch touches, run the handlers, write back."""
        located = [(e, target_of(e["stream_id"])) for e in events]
        batch = _Batch()
        await batch.prefetch(conn, located)
        batch.apply(located)
        for rows in batch.all():
            await rows.flush(conn)
