"""Fixtures of the notification tests: real receivers on free loopback ports, a notifier.

The webhook receiver is an aiohttp server that checks every signature as a receiver
would (HMAC-SHA256 over ``timestamp + "." + body``) and answers from a script of
statuses; it can be stopped and started again on the same port (a receiver down, then
back).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web

from engine.backoff import Backoff
from engine.domain.notification import Channel, ChannelType, Trigger
from engine.notify.notifier import SUBSCRIPTION, Notifier
from engine.store import EventMetadata, EventStore, NewEvent, RecordedEvent
from engine.store import subscriptions as rows
from engine.subscriptions import Subscriptions

SECRET = "s3cret-for-tests"
#: the environments config's apps, before a test's `notifications:`
APPS = """\
apps:
  - name: shop
    repo: https://example.com/shop.git
    pipeline:
      - {name: dev, cluster: "kubesim:dev"}
"""
SECRET_ENV = "BATON_TEST_NOTIFY_SECRET"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    """One request the receiver took."""

    headers: dict[str, str]
    body: dict[str, Any]
    signature_ok: bool


@dataclass
class Receiver:
    """A webhook receiver: answers `script` in turn (then 200), keeps what it took."""

    port: int = field(default_factory=free_port)
    script: list[int] = field(default_factory=list)
    retry_after: str | None = None
    taken: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        """Listen (again) on its port."""
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening: a sender meets a refused connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.script.pop(0) if self.script else 200
        self.answered.append(status)
        if status != 200:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=status, headers=headers)
        self.taken.append(
            Received(
                headers=dict(request.headers),
                body=orjson.loads(body),
                signature_ok=verify(request.headers.get("X-Baton-Signature", ""), body),
            )
        )
        return web.Response(status=200)


def verify(header: str, body: bytes) -> bool:
    """A receiver's check of `X-Baton-Signature: t=<ts>,v1=<hex>`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    expected = hmac.new(
        SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started webhook receiver, stopped at the test's end."""
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


def webhook(url: str, **changes: Any) -> Channel:
    """A signed webhook channel for every trigger."""
    fields: dict[str, Any] = {
        "name": "hooks",
        "type": ChannelType.WEBHOOK,
        "triggers": frozenset(Trigger),
        "url": url,
        "secret_env": SECRET_ENV,
        "give_up_after": timedelta(seconds=20),
        "timeout": timedelta(seconds=2),
    }
    return Channel(**{**fields, **changes})


Running = Callable[[list[Channel]], Awaitable[Notifier]]


@pytest.fixture
async def run_notifier(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    """Start the notifier's subscription on `channels`; wait until it follows the log."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tasks: list[asyncio.Task[None]] = []

    async def start(channels: list[Channel]) -> Notifier:
        notifier = Notifier(
            store=store,
            channels=channels,
            public_url="https://baton.example",
            backoff=Backoff(base=0.05, cap=0.2),
        )
        subscriptions = Subscriptions(store, poll_interval=0.05, checkpoint_interval=0.1)
        tasks.append(asyncio.create_task(notifier.run(subscriptions), name="test-notifier"))
        await until(lambda: _started(store))
        return notifier

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _started(store: EventStore) -> bool:
    return await rows.checkpoint(store.pool, SUBSCRIPTION) is not None


async def until(check: Callable[[], Any], *, within: float = 15.0) -> None:
    """Wait until `check()` (sync or async) is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def request_promotion(
    store: EventStore, promotion_id: str, *, app: str = "shop", env: str = "dev"
) -> int:
    """Append a `Target.PromotionRequested`; its log position."""
    stream = f"target:{app}:{env}"
    data = {
        "promotion_id": promotion_id,
        "release": "a" * 40,
        "release_number": 1,
        "kind": "promotion",
        "requested_by": "alice",
        "reason": "ship it",
        "from_environment": None,
        "approvals_required": 0,
        "at": "2026-01-01T00:00:00+00:00",
    }
    version = await store.stream_version(stream)
    result = await store.append(
        stream,
        [NewEvent(type="Target.PromotionRequested", data=data)],
        expected_version=version,
        metadata=EventMetadata(actor="alice"),
    )
    return result.last_position


async def deliveries(store: EventStore, channel: str = "hooks") -> list[RecordedEvent]:
    """The Delivered/Failed events of a channel's stream."""
    found = await store.read_stream(f"notification:{channel}")
    return [e for e in found if e.type in ("Notification.Delivered", "Notification.Failed")]
