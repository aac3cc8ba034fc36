"""Replay: rebuild every projection from a 1M-event log, and query the read models.

Compared in the same run with a raw asyncpg read of the same events (the ceiling) and
with the eventsourcing library's `select_notifications` read loop over the same events.
The rebuild is timed three times over (each a whole replay and swap, the later ones
dropping the tables the one before swapped in, as `baton replay` does); its rate is that of
the median run, because one run of ten seconds on a shared two-core machine moves by a
tenth either way. Then the as-of (time travel) and audit queries, p50/p99 over 200
queries each.

    python bench/replay.py [--events 1000000] [--apps 1000] [--rebuilds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._db import Server, libpq_params, print_json_line, print_table
from bench._events import ENVIRONMENTS, Generator, load
from engine.store.database import create_pool
from projections import queries, timetravel
from projections.base import WHOLE_LOG_TIMEOUT
from projections.catalog import all_projections
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner

# full event types an audit page is filtered by: common, rare, and one no event has
TYPES = (
    "Target.PromotionApproved",
    "Target.PromotionFailed",
    "Target.ReleaseRolledBack",
    "App.Registered",
    "Target.Paused",
)


async def raw_read(url: str, batch: int = 10_000) -> float:
    """Every event through an asyncpg cursor, jsonb decoded: the ceiling."""
    pool = await create_pool(url, min_size=1, max_size=1)
    started, count = time.perf_counter(), 0
    async with pool.acquire() as conn, conn.transaction():
        cursor = conn.cursor(
            "SELECT position, stream_id, type, data, metadata, recorded_at FROM events"
            " ORDER BY position",
            prefetch=batch,
        )
        async for _ in cursor:
            count += 1
    elapsed = time.perf_counter() - started
    await pool.close()
    return count / elapsed


def eventsourcing_read(url: str, batch: int = 10_000) -> float:
    """The eventsourcing library's own read loop over the same events."""
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    p = libpq_params(url)
    datastore = PostgresDatastore(p["dbname"], p["host"], p["port"], p["user"], p["password"])
    recorder = PostgresApplicationRecorder(datastore)
    started, count, start = time.perf_counter(), 0, 1
    while True:
        notifications = recorder.select_notifications(start=start, limit=batch)
        if not notifications:
            break
        count += len(notifications)
        start = notifications[-1].id + 1
    elapsed = time.perf_counter() - started
    datastore.close()
    return count / elapsed


def copy_into_eventsourcing_table(url: str) -> None:
    """The same events in the eventsourcing recorder's table (copied in SQL: fast)."""
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    p = libpq_params(url)
    datastore = PostgresDatastore(p["dbname"], p["host"], p["port"], p["user"], p["password"])
    PostgresApplicationRecorder(datastore).create_table()
    datastore.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000)


async def timed(samples: list[float], coroutine: object) -> None:
    started = time.perf_counter()
    await coroutine  # type: ignore[misc]
    samples.append(time.perf_counter() - started)


async def query_latencies(
    url: str, apps: list[str], queries_n: int
) -> dict[str, tuple[float, float]]:
    pool = await create_pool(url, min_size=1, max_size=2)
    rng = random.Random(3)
    async with pool.acquire() as conn:
        first, last = await conn.fetchrow("SELECT min(recorded_at), max(recorded_at) FROM events")
        head = await conn.fetchval("SELECT position FROM event_head")
        as_of_time: list[float] = []
        as_of_position: list[float] = []
        as_of_time_rows: list[float] = []
        as_of_position_rows: list[float] = []
        audit: list[float] = []
        audit_type: list[float] = []
        span = (last - first).total_seconds()
        for _ in range(queries_n):
            at = first + timedelta(seconds=rng.random() * span)
            position = rng.randint(1, head)
            # the answer as the API sends it (GET /state)
            await timed(as_of_time, timetravel.state_as_of_json(conn, at=at))
            await timed(as_of_position, timetravel.state_as_of_json(conn, position=position))
            # the same, decoded into Python objects for callers in the process
            await timed(as_of_time_rows, timetravel.state_as_of(conn, at=at))
            await timed(as_of_position_rows, timetravel.state_as_of(conn, position=position))
            await timed(
                audit,
                queries.audit_page(
                    conn, app=rng.choice(apps), environment=rng.choice(ENVIRONMENTS), limit=50
                ),
            )
            # by full event type, rare ones among them (`/events?type=Target.PromotionFailed`)
            await timed(audit_type, queries.audit_page(conn, action=rng.choice(TYPES), limit=50))
    await pool.close()
    return {
        "as_of_time": percentiles(as_of_time),
        "as_of_position": percentiles(as_of_position),
        "as_of_time_rows": percentiles(as_of_time_rows),
        "as_of_position_rows": percentiles(as_of_position_rows),
        "audit_app_env_first_page": percentiles(audit),
        "audit_type_first_page": percentiles(audit_type),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rebuilds", type=int, default=3, help="full rebuilds timed")
    args = parser.parse_args()
    server = Server()
    try:
        version = await server.version()
        async with server.database() as url:
            generator = Generator(args.apps)
            started = time.perf_counter()
            conn = await asyncpg.connect(url)
            count = await load(conn, generator.events(args.events))
            load_seconds = time.perf_counter() - started
            # A log is replayed long after it was written, by when autovacuum has set its
            # hint bits and statistics; this does it now rather than during the timings.
            await conn.execute("VACUUM (ANALYZE) events", timeout=WHOLE_LOG_TIMEOUT)
            await conn.close()
            print(f"loaded {count:,} events in {load_seconds:.1f}s", flush=True)

            pool = await create_pool(url, min_size=2, max_size=4)
            await ProjectionRunner(pool).ensure()
            runs = [(await rebuild(pool, all_projections())).seconds for _ in range(args.rebuilds)]
            rebuild_seconds = statistics.median(runs)
            rebuild_rate = count / rebuild_seconds
            await pool.close()
            # as `baton serve` does once started: what the process holds by now stays out
            # of the collector's full passes, which would otherwise land in the timings
            gc.collect()
            gc.freeze()
            latencies = await query_latencies(url, generator.apps, args.queries)

            raw_rate = await raw_read(url)
            await asyncio.to_thread(copy_into_eventsourcing_table, url)
            conn = await asyncpg.connect(url)
            await conn.execute(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state)"
                " SELECT md5(stream_id)::uuid, stream_version, type,"
                " convert_to(data::text, 'UTF8') FROM events ORDER BY position"
            )
            await conn.close()
            es_rate = await asyncio.to_thread(eventsourcing_read, url)

        print_table(
            f"replay of {count:,} events (PostgreSQL {version}, {server.kind})",
            ["what", "events/s", "vs raw read"],
            [
                (
                    f"baton: rebuild all projections (median of "
                    f"{', '.join(f'{r:.2f}' for r in runs)} s)",
                    f"{rebuild_rate:,.0f}",
                    f"{rebuild_rate / raw_rate:.0%}",
                ),
                ("raw asyncpg cursor read (ceiling)", f"{raw_rate:,.0f}", "100%"),
                (
                    "eventsourcing select_notifications",
                    f"{es_rate:,.0f}",
                    f"{es_rate / raw_rate:.0%}",
                ),
            ],
        )
        print_table(
            f"read-model queries at {count:,} events ({args.queries} each)",
            ["query", "p50 ms", "p99 ms"],
            [(name, f"{p50:.2f}", f"{p99:.2f}") for name, (p50, p99) in latencies.items()],
        )
        print_json_line(
            {
                "benchmark": "replay",
                "postgres": version,
                "events": count,
                "rebuild_events_per_s": round(rebuild_rate),
                "rebuild_seconds": round(rebuild_seconds, 2),
                "rebuild_seconds_each": [round(r, 2) for r in runs],
                "raw_read_events_per_s": round(raw_rate),
                "eventsourcing_read_events_per_s": round(es_rate),
                "queries_ms": {
                    k: {"p50": round(v[0], 2), "p99": round(v[1], 2)} for k, v in latencies.items()
                },
                # the queries as answered (decoding into Python objects is the caller's work)
                "target_met": rebuild_rate >= 100_000
                and all(v[1] <= 20 for k, v in latencies.items() if not k.endswith("_rows")),
            }
        )
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
