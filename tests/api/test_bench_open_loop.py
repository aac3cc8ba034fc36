"""The replay benchmark's open-loop reader keeps its schedule whatever the answers."""

from __future__ import annotations

import asyncio
import itertools

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bench._online import Read, open_loop, p99

RATE = 40.0


async def answer(request: web.Request) -> web.Response:
    """200 at once, 500 at once, or 200 after 300 ms."""
    name = request.match_info["name"]
    if name == "slow":
        await asyncio.sleep(0.3)
    return web.Response(status=500 if name == "fail" else 200)


async def test_a_slow_answer_neither_delays_the_reads_behind_it_nor_hides_its_own_wait() -> None:
    app = web.Application()
    app.router.add_get("/{name}", answer)
    async with TestServer(app) as server, ClientSession() as session:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.0, stop.set)
        paths = itertools.cycle(["/ok", "/slow", "/fail", "/ok"])
        reads = await open_loop(session, str(server.make_url("")), paths, RATE, stop)

    def of(path: str) -> list[Read]:
        return [r for r in reads if r.path == path]

    dues = sorted(r.due for r in reads)
    assert 30 <= len(reads) <= 50
    # sent on the clock, not when the one before was answered
    assert all(abs(b - a - 1 / RATE) < 1e-6 for a, b in itertools.pairwise(dues))
    assert all(r.ms >= 300 for r in of("/slow"))
    assert p99(of("/ok")) < 300
    assert [r.status for r in of("/fail")] == [500] * len(of("/fail"))
    assert all(r.ok for r in of("/ok") + of("/slow"))
