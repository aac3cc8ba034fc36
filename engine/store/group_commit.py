"""Group commit: concurrent appends share one round trip and one commit.

Appends serialise on the log's head row (that is what keeps positions gap-free and in
commit order), so each commit is a point every writer waits on. Instead of queueing
writers on that lock in the database, the store queues them here and sends whatever has
gathered as one call to `baton_append`: a batch per stream, each checked against its
own expected version, all in one transaction.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from engine.store.types import AppendResult


@dataclass(slots=True)
class AppendRequest:
    """One caller's batch for one stream (or, if atomic, several that stand or fall together)."""

    streams: Sequence[tuple[str, int | None, Sequence[tuple[str, int, str, str]]]]
    atomic: bool
    future: asyncio.Future[list[AppendResult]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def event_count(self) -> int:
        """How many events this request carries."""
        return sum(len(events) for _, _, events in self.streams)


Flush = Callable[[Sequence[AppendRequest]], Awaitable[None]]


class GroupCommit:
    """Gathers append requests and flushes them with at most `max_flushers` calls in flight.

    A caller that finds a free flusher slot becomes a flusher itself: it drains the queue
    until it is empty, so no background task has to be started or stopped.
    """

    def __init__(self, flush: Flush, *, max_flushers: int = 2, max_events: int = 2000) -> None:
        self._flush = flush
        self._pending: deque[AppendRequest] = deque()
        self._flushers = 0
        self._max_flushers = max_flushers
        self._max_events = max_events

    async def submit(self, request: AppendRequest) -> list[AppendResult]:
        """Queue `request` and return its result once it has been committed (or refused)."""
        self._pending.append(request)
        if self._flushers < self._max_flushers:
            self._flushers += 1
            try:
                while self._pending:
                    # shielded: a caller that is cancelled must not abort others' appends
                    await asyncio.shield(self._flush(self._take()))
            finally:
                self._flushers -= 1
        return await request.future

    def _take(self) -> list[AppendRequest]:
        """Take the next group: atomic requests go alone, the rest up to `max_events`."""
        first = self._pending.popleft()
        group = [first]
        if first.atomic:
            return group
        events = first.event_count
        while self._pending and not self._pending[0].atomic:
            nxt = self._pending[0]
            if events + nxt.event_count > self._max_events:
                break
            group.append(self._pending.popleft())
            events += nxt.event_count
        return group
