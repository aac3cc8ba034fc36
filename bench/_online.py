"""Reads while a replay runs: open-loop GETs against `baton serve`, with and without one.

The reads go out at a fixed rate whatever the answers (open loop), and each one's latency
counts from when it was due, so a read held up by the swap delays those behind it as it
would independent clients rather than hiding them (no coordinated omission). The replay
is asked for as an operator would, `POST /admin/replay`, and polled until it finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import asyncpg

# a read that gets no answer in this long counts as an error, not as a latency
REQUEST_TIMEOUT_S = 10.0
POLL_S = 0.2
# after the job reports success the last reads due before it are still in flight
TAIL_S = 0.5
LOCK_SAMPLE_S = 0.02
# the warm-up's windows, and the longest it may take (see `settle`)
SETTLE_WINDOW_S = 2.0
SETTLE_MAX_S = 60.0
# the reads' statements waiting for a lock, and how long each has waited so far; the
# rebuild's own (DDL of the swap, its checkpoint lock) are not reads
_LOCK_WAITS = (
    "SELECT pid, query_start, extract(epoch FROM clock_timestamp() - query_start) * 1000"
    " FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    " AND query !~* '^\\s*(LOCK|DROP|ALTER|CREATE|INSERT|UPDATE|DELETE)'"
    " AND query !~* '(FOR UPDATE|pg_advisory)'"
)


@dataclass(frozen=True)
class Read:
    """One open-loop GET: when it was due (loop time), how long until answered, its status."""

    path: str
    due: float
    ms: float
    status: int  # 0: no answer (refused, reset, or none within REQUEST_TIMEOUT_S)

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    @property
    def endpoint(self) -> str:
        """The path without its parameters: `/apps`, `/events`, `/state`."""
        return "/" + self.path.split("?")[0].split("/")[1]


@dataclass
class Window:
    """The reads of one measured window, and the replay's span within it when there was one."""

    reads: list[Read] = field(default_factory=list)
    replay: tuple[float, float] | None = None
    lock_wait_ms: float = 0.0  # the longest a read's statement was seen waiting for a lock
    warmup_s: float = 0.0  # the reads before it, until the server's answers had settled

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

    def error_kinds(self) -> dict[str, int]:
        """How many reads failed, by status ("no answer" for none)."""
        kinds = [str(r.status or "no answer") for r in self.reads if not r.ok]
        return {kind: kinds.count(kind) for kind in sorted(set(kinds))}


def p99(reads: list[Read]) -> float:
    """The 99th percentile latency in ms (nearest rank)."""
    ordered = sorted(r.ms for r in reads)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


def p50(reads: list[Read]) -> float:
    """The median latency in ms."""
    ordered = sorted(r.ms for r in reads)
    return ordered[len(ordered) // 2] if ordered else 0.0


def by_endpoint(reads: list[Read]) -> dict[str, float]:
    """p99 in ms of each endpoint's reads."""
    endpoints = sorted({r.endpoint for r in reads})
    return {e: round(p99([r for r in reads if r.endpoint == e]), 2) for e in endpoints}


async def _get(
    session: aiohttp.ClientSession, base: str, path: str, due: float, out: list[Read]
) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(due - loop.time())
    try:
        async with session.get(base + path) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    out.append(Read(path=path, due=due, ms=(loop.time() - due) * 1000, status=status))


async def longest_lock_wait(url: str, stop: asyncio.Event) -> float:
    """Sample the reads' lock waits every LOCK_SAMPLE_S until `stop`; the longest seen, ms.

    Tells a read held up by the swap's locks from one that waited for a core.
    """
    conn = await asyncpg.connect(url)
    longest = 0.0
    try:
        while not stop.is_set():
            for row in await conn.fetch(_LOCK_WAITS):
                longest = max(longest, float(row[2]))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOCK_SAMPLE_S)
    finally:
        await conn.close()
    return longest


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
        task = asyncio.create_task(_get(session, base, next(paths), due, out))
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


async def settle(
    session: aiohttp.ClientSession, base: str, paths: Iterator[str], rate: float
) -> float:
    """Read at `rate` until two windows in a row agree; the seconds it took.

    A server just started on a big log is still busy warming (its caches, each app's
    watcher's first poll, the pipelines' cache): a window measured then times its start,
    not its steady state. Two windows agree when their p99s are within a quarter of each
    other, or both are a few milliseconds."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    previous: float | None = None
    while loop.time() - began < SETTLE_MAX_S:
        stop = asyncio.Event()
        loop.call_later(SETTLE_WINDOW_S, stop.set)
        now = p99(await open_loop(session, base, paths, rate, stop))
        if previous is not None and (
            abs(now - previous) <= 0.25 * max(now, previous) or max(now, previous) < 5.0
        ):
            break
        previous = now
    return round(loop.time() - began, 1)


async def measure(
    url: str, base: str, token: str, paths: list[str], *, rate: float, seconds: float
) -> tuple[Window, Window]:
    """`seconds` of reads at `rate` without a replay, then as long as one replay takes."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    loop = asyncio.get_running_loop()
    cycle = itertools.cycle(paths)
    # as many connections as reads in flight, as independent clients would open: a
    # capped pool would queue reads in this process behind slow ones
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as reads,
        aiohttp.ClientSession(headers=headers) as admin,
    ):
        without, during = Window(), Window()
        without.warmup_s = await settle(reads, base, cycle, rate)
        for window in (without, during):
            stop = asyncio.Event()
            driving = asyncio.create_task(open_loop(reads, base, cycle, rate, stop))
            locks = asyncio.create_task(longest_lock_wait(url, stop))
            if window is without:
                await asyncio.sleep(seconds)
            else:
                # a second of reads before the replay: the window shows its start too
                await asyncio.sleep(1.0)
                started = loop.time()
                await replay(admin, base)
                window.replay = (started, loop.time())
                await asyncio.sleep(TAIL_S)
            stop.set()
            window.reads, window.lock_wait_ms = await driving, await locks
    return without, during
