"""How a sync ends when baton stops: the grace it gets, and the words that close it.

Where it sits: under the act phase of ``worker.py``. When the service stops, a worker in
the middle of a sync starts no new request, lets those in flight finish for at most the
grace period, and records SyncFailed naming how far it got (or SyncSucceeded if it got
through), so that the next start finds no sync left open to abandon.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine, Sequence
from typing import Any, TypeVar

from engine.appliers.context import Stopping
from engine.appliers.objects import Identity, ref_of

T = TypeVar("T")
STOPPING = "Stopping"  # the reason of a SyncFailed that baton's stop cut short


async def until_stopped(
    work: Coroutine[Any, Any, T], *, stopping: asyncio.Event, grace: float
) -> T:
    """Await `work`; once `stopping` is set, give it `grace` seconds more, then cancel it
    and raise Stopping (cancelling the caller cancels `work` too)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=grace)
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
            raise Stopping()
        return task.result()
    finally:
        stop.cancel()
        task.cancel()  # a no-op once done


def stopped_sync(
    desired: Sequence[dict[str, Any]], done: Collection[Identity], *, target: str
) -> tuple[str, str]:
    """The object a stopped sync did not reach (else the target) and the message saying
    how many of the desired objects are applied."""
    left = [ref_of(b) for b in desired if ref_of(b).identity not in done]
    applied = len(desired) - len(left)
    message = f"baton is stopping; {applied} of {len(desired)} objects applied"
    return (left[0].describe() if left else target), message
