"""A durable subscription in a process of its own, for the tests that kill it.

`python -m tests.subscriptions.subscriber URL NAME`: runs the subscription NAME on the
database at URL under a supervisor, its handler inserting (its pid, the position) into
the table `delivered` for each event, a few milliseconds apiece.
"""

from __future__ import annotations

import asyncio
import os
import sys

from engine.store import EventStore, RecordedEvent
from engine.store.database import create_pool
from engine.subscriptions import Subscriptions
from engine.supervisor import Supervisor

DELIVERED = (
    "CREATE TABLE IF NOT EXISTS delivered (id bigserial PRIMARY KEY, pid integer, position bigint)"
)


async def main(url: str, name: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=6)
    store = EventStore(pool)
    subscriptions = Subscriptions(
        store, poll_interval=0.2, lock_interval=0.2, checkpoint_interval=0.3
    )

    async def handler(event: RecordedEvent) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO delivered (pid, position) VALUES ($1, $2)", os.getpid(), event.position
            )
        await asyncio.sleep(0.005)

    supervisor = Supervisor()
    supervisor.start(name, lambda: subscriptions.run(name, handler, batch=10, checkpoint_every=10))
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
