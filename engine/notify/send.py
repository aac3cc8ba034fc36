"""Sending one message to one channel: the body per channel type, the signature, the retries.

Where it sits: under the notifier (``engine.notify.notifier``), which hands it a rendered
message (``engine.notify.messages``). :func:`request_of` builds what a channel receives —
a JSON webhook, a CloudEvents 1.0 structured event (through the ``cloudevents`` package),
Slack's ``{"text": ...}`` or a Teams MessageCard — signed with HMAC-SHA256 over
``timestamp + "." + body`` when the channel names a secret (``X-Baton-Signature:
t=<ts>,v1=<hex>``) and carrying the delivery id a receiver dedups by (``X-Baton-Delivery:
<log position>:<channel>``). :func:`deliver` tries until ``give_up_after``, through
``engine.backoff.retry``: again after a 5xx, a 429 (after its ``Retry-After``), a timeout
or a refused connection; never after another 4xx. Email goes through
``engine.notify.email`` with the same retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from engine.backoff import Backoff, retry
from engine.domain.notification import Channel, ChannelType
from engine.notify.messages import Message

SIGNATURE = "X-Baton-Signature"
DELIVERY = "X-Baton-Delivery"
USER_AGENT = "baton-notifications/1"
CLOUDEVENT_TYPE = "io.baton.notification."


class TryAgain(Exception):
    """The receiver may take it later (5xx, 429, a timeout, no connection)."""

    def __init__(self, error: str, *, status: int | None, retry_after: float | None = None):
        super().__init__(error)
        self.status = status
        self.retry_after = retry_after


class Refused(Exception):
    """The receiver will not take it (another 4xx, a secret missing): no retry."""

    def __init__(self, error: str, *, status: int | None) -> None:
        super().__init__(error)
        self.status = status


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How a delivery ended."""

    delivered: bool
    status: int | None
    attempts: int
    error: str | None


@dataclass(frozen=True, kw_only=True)
class Request:
    """What an HTTP channel is sent."""

    body: bytes
    headers: dict[str, str]


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp + "." + body``."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def secret_of(channel: Channel, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The channel's HMAC secret, read from its environment variable now (None: unsigned)."""
    if channel.secret_env is None:
        return None
    value = (os.environ if environ is None else environ).get(channel.secret_env)
    if not value:
        raise Refused(f"environment variable {channel.secret_env} is not set", status=None)
    return value.encode()


def payload(message: Message, delivery_id: str) -> dict[str, Any]:
    """The JSON a webhook receives (and a CloudEvent's data)."""
    ctx = message.context
    return {
        "id": delivery_id,
        "trigger": str(message.trigger),
        "title": message.title,
        "text": message.text,
        "link": message.link,
        "app": ctx["app"] or None,
        "environment": ctx["environment"] or None,
        "promotion_id": ctx["promotion_id"] or None,
        "release": ctx["release"] or None,
        "event": ctx["event"],
    }


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


def request_of(
    channel: Channel, message: Message, delivery_id: str, *, secret: bytes | None
) -> Request:
    """The body and headers `channel` is sent for `message`."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if channel.type is ChannelType.CLOUDEVENTS:
        event = CloudEvent(
            attributes={
                "id": delivery_id,
                "source": message.link or "baton",
                "type": CLOUDEVENT_TYPE + str(message.trigger),
                "subject": f"{message.context['app']}/{message.context['environment']}",
                "time": datetime.fromisoformat(message.context["event"]["time"]),
                "datacontenttype": "application/json",
            },
            data=orjson.loads(_dumps(payload(message, delivery_id))),
        )
        structured = to_structured_event(event)
        body = structured.body
        headers.update(structured.headers)
    elif channel.type is ChannelType.SLACK:
        link = f" <{message.link}|open in baton>" if message.link else ""
        body = _dumps({"text": message.text + link})
    elif channel.type is ChannelType.TEAMS:
        card: dict[str, Any] = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message.title,
            "title": message.title,
            "text": message.text,
        }
        if message.link:
            card["potentialAction"] = [
                {
                    "@type": "OpenUri",
                    "name": "Open in baton",
                    "targets": [{"os": "default", "uri": message.link}],
                }
            ]
        body = _dumps(card)
    else:
        body = _dumps(payload(message, delivery_id))
    headers[DELIVERY] = delivery_id
    if secret is not None:
        timestamp = int(time.time())
        headers[SIGNATURE] = f"t={timestamp},v1={sign(secret, timestamp, body)}"
    return Request(body=body, headers=headers)


async def post(session: aiohttp.ClientSession, channel: Channel, request: Request) -> int:
    """POST once; the status on a 2xx, TryAgain or Refused otherwise."""
    assert channel.url is not None
    timeout = aiohttp.ClientTimeout(total=channel.timeout.total_seconds())
    try:
        async with session.post(
            channel.url, data=request.body, headers=request.headers, timeout=timeout
        ) as response:
            await response.read()
            status = response.status
            if 200 <= status < 300:
                return status
            if status == 429 or status >= 500:
                after = retry_after(response.headers.get("Retry-After"))
                raise TryAgain(f"HTTP {status}", status=status, retry_after=after)
            raise Refused(f"HTTP {status}", status=status)
    except TimeoutError:
        raise TryAgain(
            f"no answer within {channel.timeout.total_seconds():g}s", status=None
        ) from None
    except aiohttp.ClientError as exc:
        # the message only: a URL may hold a token in its path or its credentials
        raise TryAgain(f"{type(exc).__name__}", status=None) from exc


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def deliver(
    attempt: Callable[[], Awaitable[int]], *, give_up_after: float, backoff: Backoff
) -> Outcome:
    """Call `attempt` until it succeeds, refuses, or `give_up_after` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    attempts = 0

    async def once() -> int:
        nonlocal attempts
        attempts += 1
        return await attempt()

    def worth(exc: BaseException) -> bool:
        return isinstance(exc, TryAgain) and loop.time() < deadline

    def wait(n: int, error: BaseException) -> float:
        after = error.retry_after if isinstance(error, TryAgain) else None
        delay = backoff.delay(n) if after is None else after
        return max(0.0, min(delay, deadline - loop.time()))

    try:
        status = await retry(once, attempts=1_000_000, on=worth, wait=wait)
    except (TryAgain, Refused) as exc:
        return Outcome(delivered=False, status=exc.status, attempts=attempts, error=str(exc))
    return Outcome(delivered=True, status=status, attempts=attempts, error=None)
