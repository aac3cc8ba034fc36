"""Benchmark: notifications, from an event appended to a webhook delivered.

Runs the notifier as `baton serve` runs it (the durable subscription `notifications`, real
Postgres) against a webhook receiver in a process of its own on a loopback port:

1. latency: promotions requested open loop at a fixed rate; the time from each append's
   commit to the receiver taking its message, p50 and p99 (target p99 <= 250 ms);
2. catch-up: a realistic backlog of 100,000 events (bench/_events.py), scanned from the
   checkpoint by the notifier (a channel that wants none of them: every event is read,
   checked against the triggers and filters, and handed on) and, as the ceiling, by a
   subscription whose handler does nothing (target >= 20,000 events/s);
3. fan-out: a realistic log (bench/_events.py: registrations, releases, promotions,
   syncs, health) appended open loop at 200 events/s to 20 channels that want every
   trigger, each message recorded as `Notification.Delivered`: every message delivered,
   its delay from the event's commit p99 <= 1 s, and caught up within a second of the
   load's end (the issue's "200 events/s to 20 channels without falling behind");
4. the worst case beside it: 200 events/s that all fire a trigger (4,000 messages/s),
   for the throughput, with bare POSTs from 20 senders to the same receiver as the ceiling.

Prints a table, then one JSON line (the last line).

    python bench/notify.py [--rate 20] [--seconds 15] [--backlog 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._db import Server, print_json_line, print_table
from bench._events import Generator, load
from engine.domain.notification import Channel, ChannelType, Trigger, triggers_of
from engine.notify.notifier import SUBSCRIPTION, Notifier
from engine.store import EventStore, RecordedEvent
from engine.store import subscriptions as rows
from engine.store.database import create_pool
from engine.subscriptions import Start, Subscriptions
from tests.notify.conftest import free_port, request_promotion, until

TARGET_P99_MS = 250.0
TARGET_SCAN_PER_S = 20_000.0
TARGET_BEHIND_S = 1.0
TARGET_DELAY_P99_MS = 1000.0
FAN_OUT_RATE = 200.0
FAN_OUT_CHANNELS = 20
FAN_OUT_SECONDS = 5.0

# the receiver: its own process, so its work is not the notifier's loop's
RECEIVER = """
import sys, time
from aiohttp import web
taken = []
async def hook(request):
    await request.read()
    taken.append((request.headers["X-Baton-Delivery"], time.time()))
    return web.Response(status=200)
async def seen(request):
    return web.json_response(taken)
app = web.Application()
app.router.add_post("/hook/{channel}", hook)
app.router.add_get("/taken", seen)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


@contextlib.contextmanager
def receiver() -> Any:
    """A webhook receiver process; yields its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/taken", timeout=1).read()
                break
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(5)


async def taken(base: str) -> dict[str, float]:
    """Delivery id → when the receiver took it (the first time)."""
    raw = await asyncio.to_thread(lambda: urllib.request.urlopen(f"{base}/taken").read())
    first: dict[str, float] = {}
    for delivery, at in orjson.loads(raw):
        first.setdefault(delivery, at)
    return first


def channel(
    base: str,
    name: str,
    *,
    apps: frozenset[str] = frozenset(),
    triggers: frozenset[Trigger] = frozenset({Trigger.PROMOTION_REQUESTED}),
) -> Channel:
    """A webhook channel (unsigned: signing is measured with the rest of the send)."""
    return Channel(
        name=name,
        type=ChannelType.WEBHOOK,
        triggers=triggers,
        url=f"{base}/hook/{name}",
        apps=apps,
        give_up_after=timedelta(seconds=30),
        timeout=timedelta(seconds=5),
    )


@contextlib.asynccontextmanager
async def notifying(store: EventStore, channels: list[Channel]) -> AsyncIterator[Notifier]:
    """The notifier's subscription running (as `baton serve` runs it) until the block ends."""
    notifier = Notifier(store=store, channels=channels, public_url="https://baton.example")
    task = asyncio.create_task(notifier.run(Subscriptions(store)))

    async def started() -> bool:
        return await rows.checkpoint(store.pool, SUBSCRIPTION) is not None

    await until(started, within=30)
    try:
        yield notifier
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def offered(
    store: EventStore, rate: float, seconds: float, *, prefix: str
) -> dict[int, float]:
    """Promotions requested open loop at `rate`/s; position → when its append returned."""
    appended: dict[int, float] = {}

    async def one(n: int) -> None:
        position = await request_promotion(store, f"{prefix}-{n}", app=f"{prefix}{n}", env="dev")
        appended[position] = time.time()

    start, tasks = time.monotonic(), []
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return appended


async def until_taken(base: str, wanted: set[str], *, within: float) -> dict[str, float]:
    """Wait until the receiver took every delivery in `wanted`."""
    deadline = time.monotonic() + within
    while True:
        found = await taken(base)
        if wanted <= found.keys() or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency(store: EventStore, base: str, rate: float, seconds: float) -> dict[str, Any]:
    """Append → delivered, open loop, one channel."""
    async with notifying(store, [channel(base, "latency")]):
        appended = await offered(store, rate, seconds, prefix="lat")
        found = await until_taken(base, {f"{p}:latency" for p in appended}, within=60)
    ids = {p: f"{p}:latency" for p in appended}
    ms = [(found[ids[p]] - at) * 1000 for p, at in appended.items() if ids[p] in found]
    return {
        "offered_per_s": rate,
        "messages": len(appended),
        "delivered": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
    }


async def catch_up(store: EventStore, url: str, base: str, backlog: int) -> dict[str, Any]:
    """The notifier, then a do-nothing subscription, reading `backlog` events from a checkpoint."""
    async with notifying(store, [channel(base, "elsewhere", apps=frozenset({"lat0"}))]):
        pass  # its checkpoint is now at the head: the backlog comes after it
    conn = await asyncpg.connect(url)
    try:
        count = await load(conn, Generator(100).events(backlog))
        await conn.execute("VACUUM (ANALYZE) events")
    finally:
        await conn.close()
    head = await store.head_position()

    async def reached() -> bool:
        return (await rows.checkpoint(store.pool, SUBSCRIPTION) or 0) >= head

    started = time.perf_counter()
    async with notifying(store, [channel(base, "elsewhere", apps=frozenset({"lat0"}))]):
        await until(reached, within=600)
    notifier_s = time.perf_counter() - started

    seen = 0

    async def nothing(event: RecordedEvent) -> None:
        nonlocal seen
        seen += 1

    started = time.perf_counter()
    follower = asyncio.create_task(
        Subscriptions(store).run("bench-nothing", nothing, start=Start.ORIGIN, batch=1000)
    )
    await until(lambda: seen >= head, within=600)
    nothing_s = time.perf_counter() - started
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower
    return {
        "backlog": count,
        "notifier_per_s": round(count / notifier_s),
        "bare_subscription_per_s": round(head / nothing_s),
    }


async def generated(store: EventStore, after: int) -> list[RecordedEvent]:
    """The events after `after` that the bench appended (not the notifier's records)."""
    found: list[RecordedEvent] = []
    while batch := await store.read_all(after=after, limit=10_000):
        found += [e for e in batch if e.metadata.actor != "notifications"]
        after = batch[-1].position
    return found


async def fan_out_log(store: EventStore, url: str, base: str) -> dict[str, Any]:
    """A realistic log at 200 events/s to 20 channels wanting every trigger."""
    everything = frozenset(Trigger)
    channels = [channel(base, f"log{n:02d}", triggers=everything) for n in range(FAN_OUT_CHANNELS)]
    chunk = 10  # events per append: 20 appends/s
    generator = Generator(50, seed=11)
    events = generator.events(int(FAN_OUT_RATE * FAN_OUT_SECONDS * 2))
    after = await store.head_position()
    conn = await asyncpg.connect(url)
    try:
        async with notifying(store, channels):
            start = time.monotonic()
            for n in range(int(FAN_OUT_RATE * FAN_OUT_SECONDS * 2) // chunk):
                await asyncio.sleep(max(0.0, start + n * chunk / FAN_OUT_RATE - time.monotonic()))
                await load(conn, (next(events) for _ in range(chunk)), group=chunk)
            stopped = time.time()
            logged = await generated(store, after)
            fired = [e for e in logged if triggers_of(e.type, e.data)]
            wanted = {f"{e.position}:{c.name}": e for e in fired for c in channels}
            found = await until_taken(base, set(wanted), within=120)
    finally:
        await conn.close()
    delays = [found[i] - e.recorded_at.timestamp() for i, e in wanted.items() if i in found]
    return {
        "events_per_s": FAN_OUT_RATE,
        "events": len(logged),
        "firing": len(fired),
        "channels": FAN_OUT_CHANNELS,
        "messages": len(wanted),
        "delivered": len(delays),
        "delay_p50_ms": round(statistics.median(delays) * 1000, 1),
        "delay_p99_ms": round(percentile(delays, 0.99) * 1000, 1),
        "behind_s": round(max(0.0, max(found[i] for i in wanted if i in found) - stopped), 2),
    }


async def fan_out(store: EventStore, base: str) -> dict[str, Any]:
    """The worst case: 200 events/s that all fire, to 20 channels; the throughput."""
    channels = [channel(base, f"fan{n:02d}") for n in range(FAN_OUT_CHANNELS)]
    async with notifying(store, channels):
        appended = await offered(store, FAN_OUT_RATE, FAN_OUT_SECONDS, prefix="fan")
        stopped = time.time()
        wanted = {f"{p}:{c.name}" for p in appended for c in channels}
        found = await until_taken(base, wanted, within=120)
    delivered = wanted & found.keys()
    last = max((found[d] for d in delivered), default=stopped)
    return {
        "events_per_s": FAN_OUT_RATE,
        "channels": FAN_OUT_CHANNELS,
        "messages": len(wanted),
        "delivered": len(delivered),
        "delivered_per_s": round(len(delivered) / max(last - min(appended.values()), 1e-9)),
        "behind_s": round(max(0.0, last - stopped), 2),
    }


async def post_ceiling(base: str, seconds: float = 3.0) -> int:
    """Bare POSTs/s to the receiver from 20 senders, each waiting for its answer (the ceiling)."""
    import aiohttp

    count = 0
    deadline = time.monotonic() + seconds

    async def sender(n: int) -> None:
        nonlocal count
        while time.monotonic() < deadline:
            headers = {"X-Baton-Delivery": f"ceiling-{n}-{count}"}
            async with session.post(f"{base}/hook/ceiling", json={}, headers=headers) as answer:
                await answer.read()
            count += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(n) for n in range(FAN_OUT_CHANNELS)))
    return round(count / seconds)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="messages/s for the latency")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--backlog", type=int, default=100_000)
    args = parser.parse_args()
    server = Server()
    try:
        async with server.database() as url:
            pool = await create_pool(url, min_size=2, max_size=24)
            store = EventStore(pool)
            try:
                with receiver() as base:
                    lat = await latency(store, base, args.rate, args.seconds)
                    scan = await catch_up(store, url, base, args.backlog)
                    log_fan = await fan_out_log(store, url, base)
                    fan = await fan_out(store, base)
                    fan["post_ceiling_per_s"] = await post_ceiling(base)
            finally:
                await store.close()
                await pool.close()
    finally:
        server.close()
    lat_ok = lat["p99_ms"] <= TARGET_P99_MS and lat["delivered"] == lat["messages"]
    scan_ok = scan["notifier_per_s"] >= TARGET_SCAN_PER_S
    log_ok = (
        log_fan["delivered"] == log_fan["messages"]
        and log_fan["delay_p99_ms"] <= TARGET_DELAY_P99_MS
        and log_fan["behind_s"] <= TARGET_BEHIND_S
    )
    met = {True: "✔", False: "✘"}
    lat_label = f"append → delivered ({lat['offered_per_s']:.0f}/s offered)"
    rate = f"{FAN_OUT_RATE:.0f} events/s × {FAN_OUT_CHANNELS} channels"
    print_table(
        "notifications (real Postgres, webhook receiver in its own process)",
        ["measure", "value", "target", "met"],
        [
            [f"{lat_label} p50", f"{lat['p50_ms']} ms", "", ""],
            [f"{lat_label} p99", f"{lat['p99_ms']} ms", f"≤ {TARGET_P99_MS:.0f} ms", met[lat_ok]],
            [
                "backlog scanned by the notifier",
                f"{scan['notifier_per_s']:,}/s",
                f"≥ {TARGET_SCAN_PER_S:,.0f}/s",
                met[scan_ok],
            ],
            ["backlog, bare subscription", f"{scan['bare_subscription_per_s']:,}/s", "", ""],
            [
                f"fan-out, realistic log, {rate}",
                f"{log_fan['delivered']:,}/{log_fan['messages']:,} delivered"
                f" ({log_fan['firing']:,} of {log_fan['events']:,} events fire),"
                f" delay p99 {log_fan['delay_p99_ms']} ms, {log_fan['behind_s']} s behind",
                f"all, p99 ≤ {TARGET_DELAY_P99_MS:.0f} ms, ≤ {TARGET_BEHIND_S:.0f} s behind",
                met[log_ok],
            ],
            [
                f"fan-out, every event fires, {rate}",
                f"{fan['delivered']:,}/{fan['messages']:,} delivered, {fan['behind_s']} s behind",
                "",
                "",
            ],
            ["  messages delivered", f"{fan['delivered_per_s']:,}/s", "", ""],
            ["  bare POSTs, 20 senders (ceiling)", f"{fan['post_ceiling_per_s']:,}/s", "", ""],
        ],
    )
    print_json_line(
        {
            "bench": "notify",
            "latency": lat,
            "catch_up": scan,
            "fan_out": log_fan,
            "fan_out_every_event": fan,
            "targets": {
                "p99_ms": TARGET_P99_MS,
                "scan_per_s": TARGET_SCAN_PER_S,
                "fan_out_delay_p99_ms": TARGET_DELAY_P99_MS,
                "behind_s": TARGET_BEHIND_S,
            },
            "met": {"latency": lat_ok, "catch_up": scan_ok, "fan_out": log_ok},
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
