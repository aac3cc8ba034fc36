"""Readable stream ids and the UUIDs the eventsourcing library keys aggregates by."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

_NAMESPACE = UUID("6f1c2a8e-2d4b-5d0e-9a57-0b1a7a0c0de5")


@lru_cache(maxsize=65536)
def stream_uuid(stream_id: str) -> UUID:
    """The aggregate id for a stream id (stable: uuid5)."""
    # cached: every event read back into an aggregate needs its stream's id, and hashing
    # it again was a tenth of the time of replaying a stream
    return uuid5(_NAMESPACE, stream_id)


def target_stream(app: str, environment: str) -> str:
    """Stream id of one app in one environment."""
    return f"target:{app}:{environment}"


def app_stream(app: str) -> str:
    """Stream id of an app."""
    return f"app:{app}"


def subscription_stream(name: str) -> str:
    """Stream id of a durable subscription (its parked events)."""
    return f"subscription:{name}"


def notification_stream(channel: str) -> str:
    """Stream id of a notification channel (its deliveries and failures)."""
    return f"notification:{channel}"


def freeze_stream(app: str, environment: str) -> str:
    """Stream id of the freeze windows of one app in one environment (their starts and ends)."""
    return f"freeze:{app}:{environment}"


def audit_stream() -> str:
    """Stream id of what the verifications of the hash chain found."""
    return "audit"


def parse_notification_stream(stream_id: str) -> str | None:
    """The channel of a notification stream id, or None for any other stream."""
    kind, _, channel = stream_id.partition(":")
    return channel if kind == "notification" and channel else None


def parse_subscription_stream(stream_id: str) -> str | None:
    """The name of a subscription stream id, or None for any other stream."""
    kind, _, name = stream_id.partition(":")
    return name if kind == "subscription" and name else None


def _app_environment(stream_id: str, kind: str) -> tuple[str, str] | None:
    found, _, rest = stream_id.partition(":")
    app, _, environment = rest.partition(":")
    if found != kind or not app or not environment:
        return None
    return app, environment


def parse_target_stream(stream_id: str) -> tuple[str, str] | None:
    """(app, environment) of a target stream id, or None for any other stream."""
    return _app_environment(stream_id, "target")


def parse_freeze_stream(stream_id: str) -> tuple[str, str] | None:
    """(app, environment) of a freeze stream id, or None for any other stream."""
    return _app_environment(stream_id, "freeze")


def parse_app_stream(stream_id: str) -> str | None:
    """The app of an app stream id, or None for any other stream."""
    kind, _, app = stream_id.partition(":")
    return app if kind == "app" and app else None


def app_of_stream(stream_id: str) -> str | None:
    """The app an app stream or a target stream belongs to, or None for any other stream."""
    target = parse_target_stream(stream_id)
    return target[0] if target is not None else parse_app_stream(stream_id)


def scope_of_stream(stream_id: str) -> tuple[str | None, str | None]:
    """(app, environment) a stream tells of: both for a target or a freeze stream, the app
    alone for an app stream, neither for any other (the audit stream: the whole log)."""
    found = parse_target_stream(stream_id) or parse_freeze_stream(stream_id)
    if found is not None:
        return found
    return parse_app_stream(stream_id), None


def stream_title(stream_id: str) -> str:
    """What a stream is, in the words of a person: `app shop`, `shop/dev`, `channel ops`."""
    if (target := parse_target_stream(stream_id)) is not None:
        return "/".join(target)
    if (app := parse_app_stream(stream_id)) is not None:
        return f"app {app}"
    if (channel := parse_notification_stream(stream_id)) is not None:
        return f"notification channel {channel}"
    if (name := parse_subscription_stream(stream_id)) is not None:
        return f"subscription {name}"
    if (freeze := parse_freeze_stream(stream_id)) is not None:
        return "freeze of {}/{}".format(*freeze)
    return stream_id


def short_sha(sha: str) -> str:
    """A commit SHA as people read it: its first 12 characters."""
    return sha[:12]
