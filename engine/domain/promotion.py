"""The promotion: a request to move one release into one target, as a value object.

The Target aggregate owns its promotions; each event replaces the promotion with a new
value, so a promotion's history is the target's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.domain.enums import PromotionKind, PromotionPhase


@dataclass(frozen=True, kw_only=True)
class Approval:
    """One user's yes."""

    by: str
    at: datetime
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class ReleaseRef:
    """A release as a promotion needs it: its commit and its order among the app's releases."""

    sha: str
    number: int


@dataclass(frozen=True, kw_only=True)
class Override:
    """An admin's decision to set a rule aside, and why."""

    by: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Promotion:
    """The state of one promotion."""

    id: str
    release: str
    release_number: int
    kind: PromotionKind
    requested_by: str
    requested_at: datetime
    reason: str
    approvals_required: int
    from_environment: str | None = None
    phase: PromotionPhase = PromotionPhase.AWAITING_APPROVAL
    approvals: tuple[Approval, ...] = field(default_factory=tuple)
    previous_release: str | None = None
    overrides: tuple[str, ...] = field(default_factory=tuple)
    finished_at: datetime | None = None
    outcome: str | None = None

    @property
    def is_approved(self) -> bool:
        """True when enough distinct users other than the requester said yes."""
        return len(self.approvals) >= self.approvals_required

    def approved_by(self, user: str) -> bool:
        """True when `user` already approved."""
        return any(a.by == user for a in self.approvals)

    def with_(self, **changes: Any) -> Promotion:
        """A copy with `changes` applied."""
        return replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class OpenSync:
    """A sync the applier started and has not yet reported the outcome of."""

    id: str
    release: str
    started_at: datetime
