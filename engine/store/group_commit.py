"""Group commit: concurrent appends share one round trip and one commit.

Appends serialise on the log's head row (that is what keeps positions gap-free and in
commit order), so each commit is a point every writer waits on. Instead of queueing
writers on that lock in the database, the store queues them here and sends whatever has
gathered as one call to `baton_append`: a batch per stream, each checked against its
own expected version, all in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from engine.store.idempotency import KeyAnswer
from engine.store.types import AppendResult

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AppendRequest:
    """One caller's batch for one stream (or, if atomic, several that stand or fall together)."""

    streams: Sequence[tuple[str, int | None, Sequence[tuple[str, int, str, str]]]]
    atomic: bool
    #: an idempotency key's answer to commit with the events (the request then goes alone)
    answer: KeyAnswer | None = None
    future: asyncio.Future[list[AppendResult]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def goes_alone(self) -> bool:
        """True when the request is its own transaction."""
        return self.atomic or self.answer is not None

    @property
    def event_count(self) -> int:
        """How many events this request carries."""
        return sum(len(events) for _, _, events in self.streams)


Flush = Callable[[Sequence[AppendRequest]], Awaitable[None]]


class GroupCommit:
    """Gathers append requests and flushes them, one call in flight at a time.

    One drain task runs while requests are queued and ends when the queue is empty.
    Whatever arrives while a call is in flight goes out together in the next call. A
    caller that is cancelled stops waiting; the call it joined is not cut short, so the
    other callers in it still get their answer.
    """

    def __init__(self, flush: Flush, *, max_events: int = 2000) -> None:
        self._flush = flush
        self._pending: deque[AppendRequest] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._max_events = max_events

    async def submit(self, request: AppendRequest) -> list[AppendResult]:
        """Queue `request` and return its result once it has been committed (or refused)."""
        self._pending.append(request)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(
                self._drain(), name="baton-store-group-commit"
            )
        return await request.future

    async def _drain(self) -> None:
        while self._pending:
            group = self._take()
            try:
                await self._flush(group)
            except Exception:
                # _flush has already handed the error to every caller in the group
                log.debug("append group failed", exc_info=True)

    def _take(self) -> list[AppendRequest]:
        """Take the next group: atomic and answered requests go alone, the rest up to
        `max_events`."""
        first = self._pending.popleft()
        group = [first]
        if first.goes_alone:
            return group
        events = first.event_count
        while self._pending and not self._pending[0].goes_alone:
            nxt = self._pending[0]
            if events + nxt.event_count > self._max_events:
                break
            group.append(self._pending.popleft())
            events += nxt.event_count
        return group
