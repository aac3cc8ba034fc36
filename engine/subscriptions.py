"""Durable subscriptions: named followers of the log, each with its checkpoint in Postgres.

Where it sits: after the event log, under the process's supervisor. ``Subscriptions(store)
.run(name, handler)`` runs until cancelled (the supervisor starts it again after a failure):

1. it waits for the subscription's one-consumer lock (``engine.store.subscriptions``): of
   several processes running the same subscription one consumes; another takes over within
   a lock interval of the holder's death or lost connection;
2. it reads the checkpoint (a new subscription starts at the log's origin or its head);
3. it follows the log with :meth:`EventStore.subscribe` (LISTEN/NOTIFY, polling as the
   fallback) and hands each event to `handler`, in log order, confirming the lock before
   each batch;
4. it checkpoints every `checkpoint_every` events, every `checkpoint_interval` seconds and
   when it stops: at least once — after a crash the events after the last checkpoint are
   handed over again, so a handler must be idempotent;
5. a handler that raises is tried again with backoff (``engine.backoff``), `max_attempts`
   times in all; then the event is parked (``Subscription.EventParked`` on the stream
   ``subscription:<name>``, ``engine.domain.subscription``) and the subscription moves on.
   A database outage is not the handler's fault: it fails the run, which resumes from the
   checkpoint. An admin's :func:`retry_parked` records ``Subscription.ParkedEventRetried``;
   the consumer meets it in the log and hands the parked event over again.

The promoter is one (``promoter``, from the origin the first time: its decisions are
idempotent). The other followers of the log are not, on purpose: the metrics feed
(``engine.metric_events``) counts into this process's Prometheus counters, which start at
zero with the process, so it counts from the head in every process; the appliers' wake
loop wakes this process's own workers, so every process must see every event, from the
head (a worker reads its target's state when it starts); the API's and the console's live
tails follow the log for one client, whose checkpoint is its ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from engine.backoff import Backoff, retry
from engine.domain.ids import subscription_stream
from engine.domain.subscription import ParkedEvent, Subscription
from engine.domain.vocabulary import EventType
from engine.repository import Repository
from engine.store import (
    ConcurrencyError,
    EventMetadata,
    EventStore,
    RecordedEvent,
    is_database_unavailable,
)
from engine.store import subscriptions as rows
from engine.store.subscriptions import CheckpointRow, ConsumerLock

log = logging.getLogger(__name__)

#: what a subscription hands each event to
Handler = Callable[[RecordedEvent], Awaitable[None]]
#: a handler that finishes its work later: the last position all of whose work is done,
#: or None when everything handed over is (the checkpoint never passes it)
HeldBack = Callable[[], int | None]
_FINAL_SAVE_S = 2.0
#: as migration 013 checks it
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class Start(StrEnum):
    """Where a subscription that has never run starts."""

    ORIGIN = "origin"  # every event of the log
    HEAD = "head"  # the events appended from now on


class UnknownSubscription(LookupError):
    """No subscription of that name has ever run."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"there is no subscription {name!r}")


class LockLost(RuntimeError):
    """The one-consumer lock's session ended: another process may consume now."""

    def __init__(self, name: str) -> None:
        super().__init__(f"subscription {name}: the lock's connection was lost; stopped")


@dataclass(frozen=True, kw_only=True)
class SubscriptionStatus:
    """A subscription as an operator sees it."""

    row: CheckpointRow
    parked: list[ParkedEvent]


class Subscriptions:
    """Runs durable subscriptions on `store`; timings shared by every one of them."""

    def __init__(
        self,
        store: EventStore,
        *,
        poll_interval: float = 1.0,
        lock_interval: float = 1.0,
        checkpoint_interval: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self.repository = Repository(store)
        self.poll_interval = poll_interval
        #: how often a waiting process tries the lock: a take-over's delay
        self.lock_interval = lock_interval
        self.checkpoint_interval = checkpoint_interval
        self.backoff = backoff or Backoff(base=0.1, cap=2.0)

    async def run(
        self,
        name: str,
        handler: Handler,
        *,
        start: Start | str = Start.ORIGIN,
        batch: int = 100,
        checkpoint_every: int = 100,
        max_attempts: int = 5,
        held_back: HeldBack | None = None,
    ) -> None:
        """Hand every event after the checkpoint to `handler`, in order, until cancelled.

        `held_back`: for a handler that queues work and returns (so one slow part does not
        hold up the rest); the checkpoint stays before the oldest work not yet done, and
        after a restart that work is handed over again.
        """
        if not _NAME.match(name):
            raise ValueError(f"subscription name {name!r} is not of the form {_NAME.pattern}")
        lock = ConsumerLock(self.store.pool, name)
        try:
            await lock.take(every=self.lock_interval)
            from_head = Start(start) is Start.HEAD
            position = await rows.open_checkpoint(self.store.pool, name, from_head=from_head)
            await lock.record_holder()
            log.info("subscription %s: consuming after position %d", name, position)
            consumer = _Consumer(
                self, name, handler, position, max_attempts=max_attempts, held_back=held_back
            )
            await consumer.follow(lock, batch=batch, checkpoint_every=checkpoint_every)
        finally:
            await lock.close()

    async def statuses(self) -> tuple[int, list[SubscriptionStatus]]:
        """The log's head and every subscription's checkpoint, lag, holder and parked events."""
        head, found = await rows.checkpoint_rows(self.store.pool)
        statuses = []
        for row in found:
            parked = await self.repository.find(Subscription, subscription_stream(row.name))
            statuses.append(
                SubscriptionStatus(row=row, parked=parked.parked if parked is not None else [])
            )
        return head, statuses

    async def retry_parked(self, name: str, position: int, *, actor: str) -> None:
        """Hand the parked event at `position` to `name`'s handler again (through the log).

        UnknownSubscription, or the domain's NotParked, when there is nothing to retry.
        """
        if await rows.checkpoint(self.store.pool, name) is None:
            raise UnknownSubscription(name)

        async def once() -> None:
            stream = subscription_stream(name)
            subscription = await self.repository.find(Subscription, stream)
            if subscription is None:
                subscription = Subscription(name=name)  # nothing parked: retry() refuses
            subscription.retry(position=position, by=actor)
            await self.repository.save(subscription, metadata=EventMetadata(actor=actor))

        await retry(once, attempts=3, on=ConcurrencyError)


class _Consumer:
    """One run's delivery: the position handled, the checkpoint, parking."""

    def __init__(
        self,
        owner: Subscriptions,
        name: str,
        handler: Handler,
        position: int,
        *,
        max_attempts: int,
        held_back: HeldBack | None,
    ) -> None:
        self.owner = owner
        self.held_back = held_back
        self.name = name
        self.stream = subscription_stream(name)
        self.handler = handler
        self.max_attempts = max_attempts
        self.position = self.saved = position
        self._saving = asyncio.Lock()

    async def follow(self, lock: ConsumerLock, *, batch: int, checkpoint_every: int) -> None:
        store = self.owner.store
        flusher = asyncio.create_task(self._flush_every(), name=f"subscription-flush:{self.name}")
        try:
            events = store.subscribe(
                after=self.position, batch_size=batch, poll_interval=self.owner.poll_interval
            )
            async with events as batches:
                async for found in batches:
                    if not await lock.confirm():
                        raise LockLost(self.name)
                    for event in found:
                        await self.deliver(event)
                        self.position = event.position
                        if self.position - self.saved >= checkpoint_every:
                            await self.save()
        finally:
            flusher.cancel()
            # what was handled is handled, however the run ends: a shielded, bounded save
            saving = asyncio.ensure_future(asyncio.wait_for(self.save(), _FINAL_SAVE_S))
            with contextlib.suppress(BaseException):
                await asyncio.shield(saving)
            await asyncio.gather(flusher, return_exceptions=True)

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.owner.checkpoint_interval)
            with contextlib.suppress(Exception):  # the next save, or the run, reports it
                await self.save()

    async def save(self) -> None:
        """Checkpoint the position handled, if it moved."""
        async with self._saving:
            position = self.position
            if self.held_back is not None and (held := self.held_back()) is not None:
                position = min(position, held)
            if position > self.saved:
                await rows.save_checkpoint(self.owner.store.pool, self.name, position)
                self.saved = position

    async def deliver(self, event: RecordedEvent) -> None:
        """Hand `event` over (a retry of a parked event: that event); park it on refusal."""
        retried = EventType.SUBSCRIPTION_PARKED_EVENT_RETRIED
        if event.stream_id == self.stream and event.type == retried:
            found = await self.owner.store.read_all(after=event.data["position"] - 1, limit=1)
            if not found or found[0].position != event.data["position"]:
                return
            event = found[0]
        try:
            await retry(
                lambda: self.handler(event),
                attempts=self.max_attempts,
                on=_handler_fault,
                wait=lambda attempt, _error: self.owner.backoff.delay(attempt),
            )
        except Exception as exc:
            if is_database_unavailable(exc):
                raise  # not the event's fault: the run fails and resumes from the checkpoint
            await self._park(event, exc)

    async def _park(self, event: RecordedEvent, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "subscription %s: parked event %d (%s) after %d attempts: %s",
            self.name,
            event.position,
            event.type,
            self.max_attempts,
            error,
        )
        pool = self.owner.store.pool
        await rows.record_error(pool, self.name, f"event {event.position} ({event.type}): {error}")
        repository = self.owner.repository
        metadata = EventMetadata(actor=f"subscription:{self.name}").caused_by(event)

        async def once() -> None:
            subscription = await repository.find(Subscription, self.stream)
            if subscription is None:
                subscription = Subscription(name=self.name)
            now = datetime.now(UTC)
            if subscription.park(
                position=event.position,
                type=event.type,
                error=error,
                attempts=self.max_attempts,
                now=now,
            ):
                await repository.save(subscription, metadata=metadata)

        await retry(once, attempts=3, on=ConcurrencyError)


def _handler_fault(exc: BaseException) -> bool:
    """An error worth another try by the handler (an outage fails the run instead)."""
    return isinstance(exc, Exception) and not is_database_unavailable(exc)


def status_json(status: SubscriptionStatus) -> dict[str, Any]:
    """A subscription's status as the API answers it."""
    row, holder = status.row, status.row.holder
    return {
        "name": row.name,
        "position": row.position,
        "lag": row.lag,
        "updated_at": row.updated_at.isoformat(),
        "last_error": row.last_error,
        "error_at": row.error_at.isoformat() if row.error_at else None,
        "holder": None
        if holder is None
        else {"pid": holder.pid, "host": holder.host, "since": holder.since.isoformat()},
        "parked": [
            {
                "position": p.position,
                "type": p.type,
                "error": p.error,
                "attempts": p.attempts,
                "parked_at": p.parked_at.isoformat(),
            }
            for p in status.parked
        ],
    }
