"""A pipeline cell: what one app in one environment shows on the pipelines page. Pure.

Where it sits: between the read models' rows (an environment as the API shows it, its
policy, its promotion in flight) and the pipelines template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.domain.enums import Health, PromotionPhase, SyncStatus
from engine.domain.ids import short_sha
from engine.domain.pipeline import EnvironmentSpec


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One environment of one app, as its cell shows it."""

    environment: str
    upstream: str | None
    release: str | None
    release_number: int | None
    subject: str | None
    health: str
    sync: str
    drifted: bool
    verified: bool
    in_flight_id: str | None
    in_flight_phase: str | None
    in_flight_release: str | None
    awaiting_approval: bool
    approvals: str | None
    soak_left: timedelta | None
    frozen_by: str | None
    frozen_until: datetime | None
    last_changed_at: datetime | None
    last_actor: str | None

    @property
    def short(self) -> str | None:
        """The running release's SHA as people read it."""
        return short_sha(self.release) if self.release else None

    @property
    def in_flight_short(self) -> str | None:
        """The in-flight promotion's release, short."""
        return short_sha(self.in_flight_release) if self.in_flight_release else None

    @property
    def tone(self) -> str:
        """The cell's colour: how a release manager should feel about it at a glance."""
        if self.health == Health.DEGRADED or self.sync == SyncStatus.FAILED:
            return "bad"
        if self.drifted or self.awaiting_approval or self.health == Health.MISSING:
            return "warn"
        if self.in_flight_id is not None or self.health == Health.PROGRESSING:
            return "busy"
        if self.health == Health.HEALTHY and self.sync == SyncStatus.SYNCED:
            return "good"
        return "none"


def cell(
    env: Mapping[str, Any],
    spec: EnvironmentSpec | None,
    *,
    subjects: Mapping[tuple[str, str], Mapping[str, Any]],
    promotion: Mapping[str, Any] | None,
    app: str,
    now: datetime,
) -> Cell:
    """The cell of `env` (an environment as `api.reads` shows it) at `now`."""
    release = env.get("applied_release")
    about = subjects.get((app, release)) if release else None
    in_flight = env.get("in_flight")
    phase = in_flight["phase"] if in_flight else None
    frozen = spec.policy.frozen_at(now) if spec is not None else None
    soak_left = None
    if phase == PromotionPhase.SYNCED and spec is not None and promotion is not None:
        synced_at = promotion.get("synced_at")
        if synced_at is not None:  # soak counts from healthy, which is at or after synced
            soak_left = max(spec.policy.soak - (now - synced_at), timedelta(0))
    approvals = None
    if phase == PromotionPhase.AWAITING_APPROVAL and promotion is not None:
        got = len(promotion.get("approvals") or [])
        approvals = f"{got}/{promotion.get('approvals_required', 0)}"
    sync = env.get("sync_status", SyncStatus.UNKNOWN)
    return Cell(
        environment=env["environment"],
        upstream=env.get("upstream"),
        release=release,
        release_number=about["number"] if about else None,
        subject=about["subject"] if about else None,
        health=env.get("health", Health.UNKNOWN),
        sync=sync,
        # out of sync while what should run does: someone changed the cluster
        drifted=sync == SyncStatus.OUT_OF_SYNC
        and release is not None
        and release == env.get("desired_release"),
        verified=release is not None and release == env.get("last_verified_release"),
        in_flight_id=in_flight["id"] if in_flight else None,
        in_flight_phase=phase,
        in_flight_release=in_flight["release"] if in_flight else None,
        awaiting_approval=phase == PromotionPhase.AWAITING_APPROVAL,
        approvals=approvals,
        soak_left=soak_left,
        frozen_by=frozen[0].name if frozen else None,
        frozen_until=frozen[1] if frozen else None,
        last_changed_at=env.get("last_changed_at"),
        last_actor=env.get("last_actor"),
    )
