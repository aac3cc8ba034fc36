"""The promotion: a request to move one release into one target, as a value object.

The Target aggregate owns its promotions; each event replaces the promotion with a new
value, so a promotion's history is the target's events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from engine.domain.enums import PromotionKind, PromotionPhase

#: field metadata: the read models show this field, as a column of the same name
SHOWN: Mapping[str, bool] = MappingProxyType({"shown": True})


def shown_fields(cls: type[Any]) -> tuple[str, ...]:
    """The names of a state value's fields that the read models show, in declared order."""
    return tuple(f.name for f in fields(cls) if f.metadata.get("shown"))


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

    id: str = field(metadata=SHOWN)
    release: str = field(metadata=SHOWN)
    release_number: int = field(metadata=SHOWN)
    kind: PromotionKind = field(metadata=SHOWN)
    requested_by: str = field(metadata=SHOWN)
    requested_at: datetime = field(metadata=SHOWN)
    reason: str = field(metadata=SHOWN)
    approvals_required: int = field(metadata=SHOWN)
    from_environment: str | None = field(default=None, metadata=SHOWN)
    phase: PromotionPhase = field(default=PromotionPhase.AWAITING_APPROVAL, metadata=SHOWN)
    approvals: tuple[Approval, ...] = field(default=(), metadata=SHOWN)
    previous_release: str | None = None
    overrides: tuple[str, ...] = field(default=(), metadata=SHOWN)
    override_by: str | None = field(default=None, metadata=SHOWN)
    override_reason: str | None = field(default=None, metadata=SHOWN)
    started_at: datetime | None = field(default=None, metadata=SHOWN)
    synced_at: datetime | None = field(default=None, metadata=SHOWN)
    finished_at: datetime | None = field(default=None, metadata=SHOWN)
    outcome: str | None = field(default=None, metadata=SHOWN)

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

    def shown(self) -> dict[str, Any]:
        """The shown fields as a read model stores them: enums by value, approvals as JSON."""
        row = {name: getattr(self, name) for name in shown_fields(Promotion)}
        row.update(
            kind=self.kind.value,
            phase=self.phase.value,
            approvals=[{"by": a.by, "at": a.at, "comment": a.comment} for a in self.approvals],
            overrides=list(self.overrides),
        )
        return row

    @classmethod
    def from_shown(cls, row: Mapping[str, Any]) -> Promotion:
        """The promotion a read model's row shows (what it does not show is left default)."""
        values = {name: row[name] for name in shown_fields(cls)}
        values.update(
            kind=PromotionKind(row["kind"]),
            phase=PromotionPhase(row["phase"]),
            approvals=tuple(
                Approval(by=a["by"], at=_time(a["at"]), comment=a["comment"])
                for a in row["approvals"]
            ),
            overrides=tuple(row["overrides"]),
        )
        return cls(**values)


def _time(value: datetime | str) -> datetime:
    # a time read back from JSON is text
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@dataclass(frozen=True, kw_only=True)
class OpenSync:
    """A sync the applier started and has not yet reported the outcome of."""

    id: str
    release: str
    started_at: datetime
