"""The Subscription aggregate (stream `subscription:<name>`): the events it parked.

A durable subscription (``engine.subscriptions``) hands every event of the log to its
handler; an event the handler refused `max_attempts` times is parked here
(``EventParked``: its position, type, the last error and the attempts made) and the
subscription moves on. An admin's retry (``ParkedEventRetried``) takes it off the list;
the subscription sees that event come by in the log and hands the parked event to its
handler again, which either takes it or parks it once more. The checkpoint is not here
(it changes with every batch: a row of ``subscriptions``, migration 013).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain import errors
from engine.domain.ids import stream_uuid, subscription_stream
from engine.domain.vocabulary import EventType

#: an error longer than this is cut: a traceback's last line says what matters
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, kw_only=True)
class ParkedEvent:
    """An event the handler refused, set aside."""

    position: int
    type: str
    error: str
    attempts: int
    parked_at: datetime


class Subscription(Aggregate):
    """A named follower of the log and the events it parked."""

    @staticmethod
    def create_id(name: str) -> Any:
        """The aggregate id is derived from the readable stream id."""
        return stream_uuid(subscription_stream(name))

    @event(EventType.SUBSCRIPTION_CREATED.event)
    def __init__(self, name: str) -> None:
        """A subscription's stream was started (at its first parked event)."""
        self.name = name
        self.parked: list[ParkedEvent] = []

    @property
    def stream_id(self) -> str:
        """`subscription:<name>`."""
        return subscription_stream(self.name)

    def parked_at(self, position: int) -> ParkedEvent | None:
        """The parked event at `position`, if it is parked."""
        return next((p for p in self.parked if p.position == position), None)

    def park(self, *, position: int, type: str, error: str, attempts: int, now: datetime) -> bool:
        """Set the event at `position` aside; False (nothing recorded) if it is already."""
        if self.parked_at(position) is not None:
            return False
        self._parked(
            position=position, type=type, error=error[-MAX_ERROR_CHARS:], attempts=attempts, at=now
        )
        return True

    @event(EventType.SUBSCRIPTION_EVENT_PARKED.event)
    def _parked(self, position: int, type: str, error: str, attempts: int, at: datetime) -> None:
        self.parked = [
            *self.parked,
            ParkedEvent(position=position, type=type, error=error, attempts=attempts, parked_at=at),
        ]

    def retry(self, *, position: int, by: str) -> None:
        """Hand the parked event at `position` to the handler again (NotParked otherwise)."""
        parked = self.parked_at(position)
        if parked is None:
            raise errors.NotParked(self.name, position)
        self._retried(position=position, type=parked.type, by=by)

    @event(EventType.SUBSCRIPTION_PARKED_EVENT_RETRIED.event)
    def _retried(self, position: int, type: str, by: str) -> None:
        self.parked = [p for p in self.parked if p.position != position]
