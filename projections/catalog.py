"""Every projection baton maintains, by name."""

from __future__ import annotations

from projections.audit import AuditProjection
from projections.base import Projection
from projections.history import HistoryProjection
from projections.state import StateProjection


def all_projections() -> list[Projection]:
    """A fresh instance of each projection."""
    return [StateProjection(), AuditProjection(), HistoryProjection()]


def select(names: list[str] | None) -> list[Projection]:
    """The projections called `names` (all when None); ValueError for an unknown name."""
    projections = all_projections()
    if not names:
        return projections
    known = {p.name: p for p in projections}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown projection {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return [known[n] for n in names]
