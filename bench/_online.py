"""Reads while a replay runs: open-loop GETs against `baton serve`, with and without one.

The reads go out at a fixed rate whatever the answers (open loop), and each one's latency
counts from when it was due, so a read held up by the swap delays those behind it as it
would independent clients rather than hiding them (no coordinated omission). The replay
is asked for as an operator would, `POST /admin/replay`, and polled until it finishes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp

# a read that gets no answer in this long counts as an error, not as a latency
REQUEST_TIMEOUT_S = 10.0
POLL_S = 0.2
# after the job reports success the last reads due before it are still in flight
TAIL_S = 0.5


@dataclass(frozen=True)
class Read:
    """One open-loop GET: when it was due (loop time), how long until answered, its status."""

    due: float
    ms: float
    ok: bool


@dataclass
class Window:
    """The reads of one measured window, and the replay's span within it when there was one."""

    reads: list[Read] = field(default_factory=list)
    replay: tuple[float, float] | None = None

    def during(self) -> list[Read]:
        """The reads due while the replay ran (all of them when there was none)."""
        if self.replay is None:
            return self.reads
        start, end = self.replay
        return [r for r in self.reads if start <= r.due <= end]

    @property
    def errors(self) -> int:
        """Non-2xx answers and reads that got no answer."""
        return sum(not r.ok for r in self.reads)


def p99(reads: list[Read]) -> float:
    """The 99th percentile latency in ms (nearest rank)."""
    ordered = sorted(r.ms for r in reads)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


async def _get(session: aiohttp.ClientSession, url: str, due: float, out: list[Read]) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(due - loop.time())
    try:
        async with session.get(url) as response:
            await response.read()
            ok = 200 <= response.status < 300
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    out.append(Read(due=due, ms=(loop.time() - due) * 1000, ok=ok))


async def open_loop(
    session: aiohttp.ClientSession,
    base: str,
    paths: Iterator[str],
    rate: float,
    stop: asyncio.Event,
) -> list[Read]:
    """GETs of `paths` in turn at `rate` a second until `stop` is set; every read's figures."""
    loop = asyncio.get_running_loop()
    out: list[Read] = []
    pending: set[asyncio.Task[None]] = set()
    start = loop.time() + 0.05
    for i in itertools.count():
        due = start + i / rate
        # wake just before each read is due to hand it its own task: one sleeping task per
        # read in flight, not one per read of the whole window
        await asyncio.sleep(max(0.0, due - loop.time() - 0.002))
        if stop.is_set():
            break
        task = asyncio.create_task(_get(session, base + next(paths), due, out))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    return out


async def replay(session: aiohttp.ClientSession, base: str) -> dict[str, object]:
    """POST /admin/replay, then poll the job until it has finished; the finished job."""
    async with session.post(base + "/admin/replay", json={}) as response:
        job = await response.json()
        if response.status != 202:
            raise RuntimeError(f"POST /admin/replay: {response.status} {job}")
    while job["state"] == "running":
        await asyncio.sleep(POLL_S)
        async with session.get(f"{base}/admin/replay/{job['id']}") as response:
            job = await response.json()
    if job["state"] != "succeeded":
        raise RuntimeError(f"replay job {job['id']} {job['state']}: {job.get('error')}")
    return dict(job)


async def measure(
    base: str, token: str, paths: list[str], *, rate: float, seconds: float
) -> tuple[Window, Window]:
    """`seconds` of reads at `rate` without a replay, then as long as one replay takes."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    loop = asyncio.get_running_loop()
    cycle = itertools.cycle(paths)
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout) as reads,
        aiohttp.ClientSession(headers=headers) as admin,
    ):
        # warm-up: every API process has read some of every endpoint before the timings
        stop = asyncio.Event()
        loop.call_later(min(2.0, seconds), stop.set)
        await open_loop(reads, base, cycle, rate, stop)

        without = Window()
        stop = asyncio.Event()
        loop.call_later(seconds, stop.set)
        without.reads = await open_loop(reads, base, cycle, rate, stop)

        during = Window()
        stop = asyncio.Event()
        driving = asyncio.create_task(open_loop(reads, base, cycle, rate, stop))
        # a second of reads before the replay: the window shows its start too
        await asyncio.sleep(1.0)
        started = loop.time()
        await replay(admin, base)
        during.replay = (started, loop.time())
        await asyncio.sleep(TAIL_S)
        stop.set()
        during.reads = await driving
    return without, during
