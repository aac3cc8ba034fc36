"""Fixed values of the domain, as StrEnums with yes/no helpers."""

from __future__ import annotations

from enum import StrEnum


class PromotionKind(StrEnum):
    """Why a promotion exists."""

    MANUAL = "manual"
    AUTO = "auto"
    ROLLBACK = "rollback"


class PromotionPhase(StrEnum):
    """Where a promotion is in its life."""

    AWAITING_APPROVAL = "awaiting_approval"
    STARTED = "started"  # the target's desired release is set; waiting for a sync
    SYNCED = "synced"  # applied; waiting to be healthy for the soak time
    COMPLETED = "completed"  # verified
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"

    @property
    def is_terminal(self) -> bool:
        """True once nothing more can happen to the promotion."""
        return self in _TERMINAL

    @property
    def is_in_flight(self) -> bool:
        """True while the promotion holds the target's one in-flight slot."""
        return not self.is_terminal


_TERMINAL = frozenset(
    {
        PromotionPhase.COMPLETED,
        PromotionPhase.FAILED,
        PromotionPhase.REJECTED,
        PromotionPhase.CANCELLED,
        PromotionPhase.SUPERSEDED,
    }
)


class Health(StrEnum):
    """Health of a target or an object, as Argo CD names it."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    SUSPENDED = "Suspended"
    DEGRADED = "Degraded"
    MISSING = "Missing"
    UNKNOWN = "Unknown"

    def is_worse(self, other: Health) -> bool:
        """True when self is a worse state than `other` (Argo CD's ordering)."""
        return _HEALTH_ORDER.index(self) > _HEALTH_ORDER.index(other)


_HEALTH_ORDER = [
    Health.HEALTHY,
    Health.SUSPENDED,
    Health.PROGRESSING,
    Health.MISSING,
    Health.DEGRADED,
    Health.UNKNOWN,
]


class SyncStatus(StrEnum):
    """Whether the cluster matches the desired release."""

    UNKNOWN = "Unknown"
    OUT_OF_SYNC = "OutOfSync"
    SYNCING = "Syncing"
    SYNCED = "Synced"
    FAILED = "Failed"
