"""Notifications: what people and systems are told, and the record of telling them.

Where it sits: the pure part of ``engine.notify``. :class:`Trigger` names what a channel
of the environments config (``notifications:``) asks to hear about, and :data:`TRIGGERS`
is the one table from triggers to the event types of the vocabulary (with the test an
event's data must pass, where one type means several things). :class:`Channel` is a
validated channel of the config. The :class:`Notification` aggregate (stream
``notification:<channel>``) records each delivery (``Delivered``, ``Failed``: the log
position it tells of, the response status and the attempts made; never the secret or the
URL) and an admin's resend (``ResendRequested``). Deliveries to one channel are made in
log order, so the last position handled is all a consumer needs to skip what it already
told after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain import errors
from engine.domain.ids import notification_stream, stream_uuid
from engine.domain.vocabulary import EventType

#: how many deliveries a channel keeps at hand for the API (the log keeps them all)
RECENT = 200
MAX_ERROR_CHARS = 500


class Trigger(StrEnum):
    """What a channel asks to be told about."""

    PROMOTION_REQUESTED = "promotion-requested"
    AWAITING_APPROVAL = "awaiting-approval"
    PROMOTION_STARTED = "promotion-started"
    PROMOTION_SUCCEEDED = "promotion-succeeded"  # verified
    PROMOTION_FAILED = "promotion-failed"
    ROLLED_BACK = "rolled-back"
    DRIFT_DETECTED = "drift-detected"
    DRIFT_CORRECTED = "drift-corrected"
    HEALTH_DEGRADED = "health-degraded"
    FREEZE_STARTED = "freeze-started"
    FREEZE_ENDED = "freeze-ended"
    AUDIT_CHAIN_BROKEN = "audit-chain-broken"


def _always(_data: Mapping[str, Any]) -> bool:
    return True


#: trigger → the event type that fires it, and the test its data must pass
TRIGGERS: dict[Trigger, tuple[EventType, Callable[[Mapping[str, Any]], bool]]] = {
    Trigger.PROMOTION_REQUESTED: (EventType.PROMOTION_REQUESTED, _always),
    Trigger.AWAITING_APPROVAL: (
        EventType.PROMOTION_REQUESTED,
        lambda data: int(data.get("approvals_required") or 0) > 0,
    ),
    Trigger.PROMOTION_STARTED: (EventType.PROMOTION_STARTED, _always),
    Trigger.PROMOTION_SUCCEEDED: (EventType.PROMOTION_VERIFIED, _always),
    Trigger.PROMOTION_FAILED: (EventType.PROMOTION_FAILED, _always),
    Trigger.ROLLED_BACK: (EventType.RELEASE_ROLLED_BACK, _always),
    Trigger.DRIFT_DETECTED: (EventType.DRIFT_DETECTED, _always),
    Trigger.DRIFT_CORRECTED: (EventType.DRIFT_CORRECTED, _always),
    Trigger.HEALTH_DEGRADED: (
        EventType.HEALTH_CHANGED,
        lambda data: data.get("health") == "Degraded" and data.get("previous") != "Degraded",
    ),
    Trigger.FREEZE_STARTED: (EventType.FREEZE_STARTED, _always),
    Trigger.FREEZE_ENDED: (EventType.FREEZE_ENDED, _always),
    Trigger.AUDIT_CHAIN_BROKEN: (EventType.AUDIT_CHAIN_BROKEN, _always),
}


def triggers_of(event_type: str, data: Mapping[str, Any]) -> list[Trigger]:
    """Every trigger an event fires, in the table's order."""
    return [t for t, (kind, test) in TRIGGERS.items() if kind == event_type and test(data)]


class ChannelType(StrEnum):
    """How a channel's messages travel."""

    WEBHOOK = "webhook"
    CLOUDEVENTS = "cloudevents"
    SLACK = "slack"
    TEAMS = "teams"
    EMAIL = "email"

    @property
    def is_http(self) -> bool:
        """True for the types that POST to a URL."""
        return self is not ChannelType.EMAIL


@dataclass(frozen=True, kw_only=True)
class Smtp:
    """Where an email channel's messages go."""

    host: str
    port: int = 587
    sender: str
    to: tuple[str, ...]
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password_env: str | None = None


@dataclass(frozen=True, kw_only=True)
class Channel:
    """One validated channel of the ``notifications:`` section."""

    name: str
    type: ChannelType
    triggers: frozenset[Trigger]
    url: str | None = None
    smtp: Smtp | None = None
    secret_env: str | None = None
    apps: frozenset[str] = frozenset()  # empty: every app
    environments: frozenset[str] = frozenset()  # empty: every environment
    template: str | None = None
    give_up_after: timedelta = timedelta(minutes=10)
    timeout: timedelta = timedelta(seconds=10)
    source: str = field(default="", compare=False)  # "file:line" of its name

    def wants(self, trigger: Trigger, app: str | None, environment: str | None) -> bool:
        """True when this channel asks to hear of `trigger` for that app and environment.

        An event of no app (a broken audit chain: the whole log) passes the filters.
        """
        if trigger not in self.triggers:
            return False
        if app is None:
            return True
        if self.apps and app not in self.apps:
            return False
        return not self.environments or environment in self.environments


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One delivery to a channel, as recorded."""

    position: int  # the log position of the event told of
    event_type: str
    trigger: str
    delivery_id: str
    delivered: bool
    status: int | None  # the receiver's last HTTP status (None: no answer)
    attempts: int
    error: str | None
    at: datetime


class Notification(Aggregate):
    """One channel's deliveries: the last position told, the recent ones, failing since."""

    @staticmethod
    def create_id(channel: str) -> Any:
        """The aggregate id is derived from the readable stream id."""
        return stream_uuid(notification_stream(channel))

    @event(EventType.NOTIFICATION_CREATED.event)
    def __init__(self, channel: str) -> None:
        """A channel's stream was started (at its first delivery)."""
        self.channel = channel
        self.last_position = 0
        self.recent: list[Delivery] = []
        self.last_success: datetime | None = None
        self.failing_since: datetime | None = None

    @property
    def stream_id(self) -> str:
        """`notification:<channel>`."""
        return notification_stream(self.channel)

    def delivery_at(self, position: int) -> Delivery | None:
        """The latest recorded delivery of the event at `position`, if any is at hand."""
        return next((d for d in reversed(self.recent) if d.position == position), None)

    def record(self, delivery: Delivery) -> None:
        """Record a delivery made or given up on."""
        record = self._delivered if delivery.delivered else self._failed
        record(
            position=delivery.position,
            event_type=delivery.event_type,
            trigger=delivery.trigger,
            delivery_id=delivery.delivery_id,
            status=delivery.status,
            attempts=delivery.attempts,
            error=None if delivery.error is None else delivery.error[-MAX_ERROR_CHARS:],
            at=delivery.at,
        )

    @event(EventType.NOTIFICATION_DELIVERED.event)
    def _delivered(
        self,
        position: int,
        event_type: str,
        trigger: str,
        delivery_id: str,
        status: int | None,
        attempts: int,
        error: str | None,
        at: datetime,
    ) -> None:
        """The receiver took the message."""
        self._remember(Delivery(delivered=True, **_fields(locals())))
        self.last_success = at
        self.failing_since = None

    @event(EventType.NOTIFICATION_FAILED.event)
    def _failed(
        self,
        position: int,
        event_type: str,
        trigger: str,
        delivery_id: str,
        status: int | None,
        attempts: int,
        error: str | None,
        at: datetime,
    ) -> None:
        """Baton gave up on the message (a refusal, or `give_up_after` passed)."""
        self._remember(Delivery(delivered=False, **_fields(locals())))
        if self.failing_since is None:
            self.failing_since = at

    def _remember(self, delivery: Delivery) -> None:
        self.last_position = max(self.last_position, delivery.position)
        self.recent = [*self.recent[-(RECENT - 1) :], delivery]

    def request_resend(self, *, position: int, by: str) -> None:
        """Tell the event at `position` again (NotDelivered when none is at hand)."""
        delivery = self.delivery_at(position)
        if delivery is None:
            raise errors.NotDelivered(self.channel, position)
        self._resend_requested(position=position, event_type=delivery.event_type, by=by)

    @event(EventType.NOTIFICATION_RESEND_REQUESTED.event)
    def _resend_requested(self, position: int, event_type: str, by: str) -> None:
        """An admin asked for the event at `position` to be told again."""


def _fields(scope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scope.items() if k != "self"}
