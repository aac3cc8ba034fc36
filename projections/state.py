"""The `state` projection: targets, promotions, releases and lineage (`sql/state.sql`).

Mirrors what the Target and App aggregates decide, from their events alone, so the API
answers "what runs where, who promoted it, with whose approval" without loading
aggregates. Each batch the runner reads is folded with the aggregate's own rules
(`engine.domain.target_state.evolve`) and the rows of what changed written back; a
rebuild computes the same rows set-wise inside Postgres (`state_bulk`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import asyncpg

from engine.domain.enums import PromotionPhase
from engine.domain.promotion import Promotion
from engine.domain.target_state import TargetState, evolve
from engine.domain.vocabulary import EventType
from projections import state_bulk
from projections.base import EventRow, RowProjection, target_of
from projections.rows import KeyedRows, Row
from projections.state_columns import (
    LINEAGE_COLUMNS,
    PROMOTION_COLUMNS,
    RELEASE_COLUMNS,
    TARGET_COLUMNS,
)

_TARGET_EVENTS = {t.value: t for t in EventType if t.aggregate == "Target"}
# an event with the target its stream belongs to (None for app streams)
Located = tuple[EventRow, tuple[str, str] | None]


def _time(value: datetime | str | None) -> datetime | None:
    # times come as timestamptz columns (see COLUMNS); older shapes may carry text
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _lineage(promotion: Row) -> Row:
    """A release's row in an environment as its promotion there shows it."""
    verified_at = (
        promotion["finished_at"] if promotion["phase"] == PromotionPhase.COMPLETED else None
    )
    synced_at = promotion["synced_at"]
    return {
        "promotion_id": promotion["id"],
        "kind": promotion["kind"],
        "requested_by": promotion["requested_by"],
        "requested_at": promotion["requested_at"],
        "approvals": promotion["approvals"],
        "started_at": promotion["started_at"],
        "synced_at": synced_at,
        "verified_at": verified_at,
        "soak_seconds": (
            (verified_at - synced_at).total_seconds() if verified_at and synced_at else None
        ),
        "outcome": promotion["outcome"],
    }


class _Batch:
    """The rows one batch works on: each target event is folded into its target's state
    (`evolve`), and the rows of what changed are written back."""

    def __init__(self) -> None:
        self.targets = KeyedRows("targets", ("app", "environment"), TARGET_COLUMNS)
        self.promotions = KeyedRows("promotions", ("id",), PROMOTION_COLUMNS)
        self.releases = KeyedRows("releases", ("app", "sha"), RELEASE_COLUMNS)
        self.lineage = KeyedRows(
            "release_environments", ("app", "sha", "environment"), LINEAGE_COLUMNS
        )
        self.states: dict[tuple[str, str], TargetState] = {}

    def all(self) -> tuple[KeyedRows, ...]:
        return (self.targets, self.promotions, self.releases, self.lineage)

    async def prefetch(self, conn: asyncpg.Connection, events: Sequence[Located]) -> None:
        """Load every existing row the batch will touch, in a few queries."""
        targets = {t for _, t in events if t is not None}
        promotions = {
            (pid,) for e, t in events if t is not None and (pid := e["promotion_id"]) is not None
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
            release = e["release"]
            if release is None and (pid := e["promotion_id"]) is not None:
                promotion = self.promotions.get((pid,))
                release = promotion["release"] if promotion else None
            if release is not None:
                lineage.add((t[0], release, t[1]))
        await self.lineage.load(conn, lineage)

    def _state(self, app: str, env: str, target: Row) -> TargetState:
        if (state := self.states.get((app, env))) is not None:
            return state
        row = self.promotions.get((target["promotion_id"],))
        promotion = Promotion.from_shown(row) if row is not None else None
        return TargetState.from_shown(app, env, target, promotion)

    def fold(self, e: EventRow, app: str, env: str, target: Row) -> None:
        """Fold a target event into its state and write the rows it changed."""
        if (kind := _TARGET_EVENTS.get(e["type"])) is None:
            return  # a type this code does not know changes nothing it shows
        before = self._state(app, env, target)
        after = evolve(before, kind, e)
        self.states[(app, env)] = after
        target.update(after.shown())
        if (p := after.promotion) is not None and p is not before.promotion:
            target.update(
                promotion_id=p.id, promotion_release=p.release, promotion_phase=p.phase.value
            )
            self._promotion(e, app, env, p)
        if kind is EventType.RELEASE_ROLLED_BACK:
            self.rolled_back(e, app, env)

    def _promotion(self, e: EventRow, app: str, env: str, p: Promotion) -> None:
        """Write a promotion that changed, and its release's row in the environment."""
        key = (app, p.release, env)
        if (row := self.promotions.get((p.id,))) is None:
            row = self.promotions.put(
                {"id": p.id, "app": app, "environment": env, "trace_id": e["trace_id"]}
            )
            # a new request starts its release's row in the environment afresh
            self.lineage.put(
                {
                    "app": app,
                    "sha": p.release,
                    "environment": env,
                    "promotion_id": p.id,
                    "rolled_back_at": None,
                    "rolled_back_by": None,
                    "rolled_back_reason": None,
                }
            )
        row = self.promotions.touch((p.id,))
        row.update(p.shown(), last_position=e["position"])
        lineage = self.lineage.get(key)
        if lineage is not None and lineage["promotion_id"] == p.id:
            self.lineage.touch(key).update(_lineage(row))

    def rolled_back(self, e: EventRow, app: str, env: str) -> None:
        row = self.lineage.get((app, e["release"], env))
        if row is None:
            return
        rollback = self.promotions.get((e["promotion_id"],))
        self.lineage.touch((app, e["release"], env)).update(
            rolled_back_at=e["recorded_at"],
            rolled_back_by=e["actor"],
            rolled_back_reason=rollback["reason"] if rollback else None,
        )

    def apply(self, events: Sequence[Located]) -> None:
        """Fold every target event; record every release."""
        last: dict[tuple[str, str], EventRow] = {}
        for e, t in events:
            if t is None:
                if e["type"] == EventType.RELEASE_CREATED:
                    self.release_created(e)
                continue
            if self.targets.get(t) is None:
                self.targets.put(_new_target(*t, e))
            last[t] = e
            self.fold(e, t[0], t[1], self.targets.touch(t))
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
    state = TargetState(app=app, environment=environment)
    return {
        "app": app,
        "environment": environment,
        **state.shown(),
        "promotion_id": None,
        "promotion_release": None,
        "promotion_phase": None,
        "last_position": e["position"],
        "last_changed_at": e["recorded_at"],
        "last_actor": e["actor"] or "",
    }


class StateProjection(RowProjection):
    """Targets, promotions, releases and lineage."""

    rows_wanted: ClassVar[str | None] = "stream_id LIKE 'target:%' OR type = 'App.ReleaseCreated'"
    # the fields `evolve` reads, extracted by Postgres (decoding whole documents in Python
    # would cost more than the fold itself), but `objects` and `reasons`, big and read
    # only for fields the rows do not show
    columns: ClassVar[str] = """position, stream_id, type, recorded_at,
        metadata->>'actor' AS actor, data->>'app' AS app, data->>'environment' AS environment,
        data->>'sync_id' AS sync_id,
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
    #: 5: events stored in an older shape are read upcast (their fields were null before)
    version: ClassVar[int] = 5
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
