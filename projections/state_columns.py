"""The columns of the `state` projection's tables (`sql/state.sql`), declared once.

What a target and a promotion show are the fields of their state values marked shown
(`engine.domain.target_state`); the live handlers (`state`) and the rebuild's SQL
(`state_bulk`) both write these lists.
"""

from __future__ import annotations

from engine.domain.target_state import PROMOTION_SHOWN, TARGET_SHOWN

#: a target's row: its key, what its state shows, its latest promotion, and when it changed
TARGET_COLUMNS = (
    "app",
    "environment",
    *TARGET_SHOWN,
    "promotion_id",
    "promotion_release",
    "promotion_phase",
    "last_position",
    "last_changed_at",
    "last_actor",
)
#: a promotion's row: its target, what its value shows, its trace and last change
PROMOTION_COLUMNS = ("app", "environment", *PROMOTION_SHOWN, "trace_id", "last_position")
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
#: where a release went: its latest promotion to each environment, as that promotion shows
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
