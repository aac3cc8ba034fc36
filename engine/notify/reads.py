"""What the API and the CLI show of notifications: channel states, recent deliveries, resends.

Where it sits: beside the notifier, read by ``api.views.notifications``. Everything comes
from the channels' streams (``notification:<channel>``, the Notification aggregate) and
the config's channels; the URL and the secret are never part of an answer. A resend is an
event (``Notification.ResendRequested``) that the notifier meets in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.backoff import retry
from engine.domain.ids import notification_stream
from engine.domain.notification import Channel, Delivery, Notification
from engine.repository import Repository
from engine.store import ConcurrencyError, EventMetadata


class UnknownChannel(LookupError):
    """No channel of that name in the config."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"there is no notification channel {name!r} in the config")


class UnknownDelivery(LookupError):
    """A delivery id that is not `<position>:<channel>`."""


async def channel_states(
    repository: Repository, channels: Sequence[Channel]
) -> list[dict[str, Any]]:
    """Each configured channel: what it hears of, its last success, failing since when."""
    out = []
    for channel in channels:
        record = await repository.find(Notification, notification_stream(channel.name))
        out.append(
            {
                "name": channel.name,
                "type": str(channel.type),
                "triggers": sorted(channel.triggers),
                "apps": sorted(channel.apps),
                "environments": sorted(channel.environments),
                "last_position": record.last_position if record else 0,
                "last_success": _iso(record.last_success) if record else None,
                "failing_since": _iso(record.failing_since) if record else None,
            }
        )
    return out


async def recent_deliveries(
    repository: Repository, channels: Sequence[Channel], *, limit: int = 50
) -> list[dict[str, Any]]:
    """The channels' recent deliveries, newest first."""
    found: list[tuple[str, Delivery]] = []
    for channel in channels:
        record = await repository.find(Notification, notification_stream(channel.name))
        if record is not None:
            found.extend((channel.name, d) for d in record.recent)
    found.sort(key=lambda item: (item[1].at, item[1].position), reverse=True)
    return [delivery_json(name, d) for name, d in found[:limit]]


def delivery_json(channel: str, delivery: Delivery) -> dict[str, Any]:
    """One delivery as the API answers it."""
    return {
        "id": delivery.delivery_id,
        "channel": channel,
        "position": delivery.position,
        "event_type": delivery.event_type,
        "trigger": delivery.trigger,
        "delivered": delivery.delivered,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "error": delivery.error,
        "at": _iso(delivery.at),
    }


def parse_delivery_id(text: str) -> tuple[int, str]:
    """`<position>:<channel>` → (position, channel); UnknownDelivery otherwise."""
    position, _, channel = text.partition(":")
    if not position.isdigit() or len(position) > 18 or not channel:
        raise UnknownDelivery(f"{text!r} is not a delivery id (<position>:<channel>)")
    return int(position), channel


async def request_resend(
    repository: Repository, channels: Sequence[Channel], delivery_id: str, *, actor: str
) -> dict[str, Any]:
    """Record that the delivery should be made again; the domain's NotDelivered if unknown."""
    position, name = parse_delivery_id(delivery_id)
    if name not in {c.name for c in channels}:
        raise UnknownChannel(name)

    async def once() -> Delivery:
        record = await repository.find(Notification, notification_stream(name))
        if record is None:
            record = Notification(channel=name)  # nothing delivered: the domain refuses
        record.request_resend(position=position, by=actor)
        await repository.save(record, metadata=EventMetadata(actor=actor))
        delivery = record.delivery_at(position)
        assert delivery is not None
        return delivery

    return delivery_json(name, await retry(once, attempts=3, on=ConcurrencyError))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
