"""`/live`: the changes of the log, as server-sent events, for the pages a browser has open.

Pages fetch the fragments a change touches (a pipeline row, a timeline) again; the changes
come from the one tail every page shares (`console.live.LiveHub`). `?app=`, `?environment=`
and `?promotion=` keep the changes of one app, environment or promotion.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from api.auth import Role
from api.guard import require
from api.keys import STOPPING
from console.keys import HUB
from console.live import RESYNC, Change
from console.pages import page, signed_in

_CHECK_S = 1.0
_HEARTBEAT_S = 15.0
_BATCH = 500
_RESYNC = b"event: resync\ndata: {}\n\n"


def _wanted(request: web.Request, change: Change) -> bool:
    for name, value in (
        ("app", change.app),
        ("environment", change.environment),
        ("promotion", change.promotion_id),
    ):
        wanted = request.query.get(name)
        if wanted and wanted != value:
            return False
    return True


@page(session=False)
async def live(request: web.Request) -> web.StreamResponse:
    """The changes from now on, until the page closes or baton stops.

    Without a session the stream says so and ends (an EventSource cannot follow a
    redirect to sign-in): the page then reloads, and signing in brings the reader back.
    """
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    if not await signed_in(request):
        await response.prepare(request)
        await response.write(b"event: signed-out\ndata: {}\n\n")
        return response
    require(request, Role.VIEWER)
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    stopping = request.app[STOPPING]
    idle = 0.0
    with contextlib.suppress(ConnectionResetError), request.app[HUB].follow() as changes:
        while request.transport is not None and not request.transport.is_closing():
            if stopping.is_set():  # the page reconnects, to this process or another
                break
            try:
                change = await asyncio.wait_for(changes.get(), timeout=_CHECK_S)
            except TimeoutError:
                idle += _CHECK_S
                if idle >= _HEARTBEAT_S:
                    idle = 0.0
                    await response.write(b": keep-alive\n\n")
                continue
            idle = 0.0
            # what else is waiting goes out in the same write: one write per change would
            # cost a hundred pages more than the changes themselves
            batch = [change]
            while not changes.empty() and len(batch) < _BATCH:
                batch.append(changes.get_nowait())
            out = b"".join(
                _RESYNC if c is RESYNC else c.message
                for c in batch
                if c is RESYNC or _wanted(request, c)
            )
            if out:
                await response.write(out)
    return response
