"""The Audit aggregate (stream ``audit``): where verifications found the hash chain broken.

Where it sits: a verification of the hash chain (``engine.store.audit``) is kept as a row
of ``audit_verifications``; a broken chain is also news, so ``engine.audit`` records it
here as ``ChainBroken`` (the first broken position, why, and when it was found), once per
position: verifying again finds it recorded and does nothing, so the notifier tells of it
once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain.ids import audit_stream, stream_uuid
from engine.domain.vocabulary import EventType


class Audit(Aggregate):
    """The positions at which the hash chain was found broken."""

    @staticmethod
    def create_id() -> Any:
        """The aggregate id is derived from the readable stream id."""
        return stream_uuid(audit_stream())

    @event(EventType.AUDIT_CREATED.event)
    def __init__(self) -> None:
        """The audit stream was started (at the first broken chain found)."""
        self.broken: list[int] = []

    @property
    def stream_id(self) -> str:
        """`audit`."""
        return audit_stream()

    def found_broken(self, *, position: int, reason: str, at: datetime) -> bool:
        """Record the chain broken at `position`; False (nothing recorded) if it is already."""
        if position in self.broken:
            return False
        self._chain_broken(position=position, reason=reason, found_at=at)
        return True

    @event(EventType.AUDIT_CHAIN_BROKEN.event)
    def _chain_broken(self, position: int, reason: str, found_at: datetime) -> None:
        """A verification found the event at `position` tampered with, corrupted or missing."""
        self.broken = [*self.broken, position]
