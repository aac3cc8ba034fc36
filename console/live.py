"""One tail of the log for every open page: pages follow it over server-sent events.

Where it sits: under the console's `/live` stream. A page's cell or timeline is drawn from
the read models, so a change is passed on only once the read models hold it: a page that
fetches its fragment again on a change sees the change. One subscription serves every
page (a tail of the API holds a database connection each; a hundred open pages must not).
A page that falls behind is told to draw itself again rather than being sent a backlog.
Not a durable subscription (`engine.subscriptions`): it serves this process's open pages,
from the head, and a page that reconnects draws itself from the read models again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import orjson

from engine.domain.ids import app_of_stream, parse_target_stream
from engine.store import EventStore, RecordedEvent

#: changes a page may have waiting before it is told to draw itself again
_FOLLOWER_QUEUE = 2000
#: how long a change waits for the read models to hold it before it is passed on anyway
READ_MODEL_WAIT_S = 3.0


@dataclass(frozen=True, kw_only=True)
class Change:
    """What a page needs to know of an event to redraw the part it touches."""

    position: int
    type: str
    app: str | None
    environment: str | None
    promotion_id: str | None
    actor: str
    #: the change as one server-sent event, made once for every page that gets it
    message: bytes = b""

    def __post_init__(self) -> None:
        data = orjson.dumps(
            {
                "position": self.position,
                "type": self.type,
                "app": self.app,
                "environment": self.environment,
                "promotion_id": self.promotion_id,
                "actor": self.actor,
            }
        )
        message = b"id: %d\nevent: change\ndata: %s\n\n" % (self.position, data)
        object.__setattr__(self, "message", message)

    @classmethod
    def of(cls, event: RecordedEvent) -> Change:
        """The change an event makes."""
        target = parse_target_stream(event.stream_id)
        promotion_id = event.data.get("promotion_id")
        return cls(
            position=event.position,
            type=event.type,
            app=app_of_stream(event.stream_id),
            environment=target[1] if target else None,
            promotion_id=promotion_id if isinstance(promotion_id, str) else None,
            actor=event.metadata.actor,
        )


#: what a follower is sent when it fell behind: draw the page again
RESYNC = None


class LiveHub:
    """Follows the log and hands each change to every open page."""

    def __init__(
        self, store: EventStore, read_models_reach: Callable[[int], Awaitable[object]]
    ) -> None:
        self._store = store
        #: waits until the read models hold a position (at most READ_MODEL_WAIT_S)
        self._read_models_reach = read_models_reach
        self._followers: set[asyncio.Queue[Change | None]] = set()
        self._after: int | None = None

    @property
    def followers(self) -> int:
        """How many pages follow now."""
        return len(self._followers)

    async def run(self) -> None:
        """Tail the log for ever (a supervised task: after a failure it resumes where it was)."""
        if self._after is None:
            self._after = await self._store.head_position()
        async with self._store.subscribe(after=self._after, poll_interval=0.5) as batches:
            async for batch in batches:
                await self._read_models_reach(batch[-1].position)
                for event in batch:
                    self._publish(Change.of(event))
                self._after = batch[-1].position

    def _publish(self, change: Change) -> None:
        for queue in self._followers:
            if queue.full():  # a page this far behind draws itself again instead
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)
            else:
                queue.put_nowait(change)

    @contextlib.contextmanager
    def follow(self) -> Iterator[asyncio.Queue[Change | None]]:
        """A queue of the changes from now on, for as long as the page is open."""
        queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize=_FOLLOWER_QUEUE)
        self._followers.add(queue)
        try:
            yield queue
        finally:
            self._followers.discard(queue)
