"""Append throughput: baton's store against the eventsourcing library's recorder and two ceilings.

All contenders write to the same Postgres in the same process, 1 and 4 concurrent writers,
1 and 10 events per append, each measurement in a fresh database. baton keeps every
guarantee (synchronous commit, gap-free positions in commit order, the hash chain). The
two ceilings are plain INSERTs, one transaction per append, synchronous commit:

- raw: a bare table with no index, no uniqueness and no ordering guard;
- fair: baton's own `events` table (its columns, CHECKs, indexes and unique
  (stream_id, stream_version) constraint, taken from the migrated schema) without what
  baton computes under its ordering guard: no head row, no hash column, positions from a
  sequence (so neither gap-free nor in commit order).

Each cell is the median of `--runs` runs; the contenders take turns within a run so that a
noisy moment weighs on all of them. `target_met`: at 4 writers, for 1 and for 10 events per
append, baton ≥ 3× the eventsourcing recorder and ≥ 0.85 × the fair ceiling.

    python bench/append.py [--appends N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._db import Server, libpq_params, print_json_line, print_table
from engine.store import EventMetadata, EventStore, NewEvent
from engine.store.database import create_pool

DATA = {"app": "shop", "environment": "prod", "release": "a" * 40, "actor": "alice"}
META = EventMetadata(actor="bench", correlation_id="c", traceparent=None)
EVENT_TYPE = "Bench.Happened"
CONTENDERS = ("baton", "eventsourcing", "raw", "fair")

#: baton's events table as the migrations leave it, minus what its ordering guard computes
_FAIR_DDL = (
    "CREATE TABLE fair_events (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
    " INCLUDING INDEXES)",
    "ALTER TABLE fair_events DROP COLUMN hash",
    "ALTER TABLE fair_events ALTER COLUMN position ADD GENERATED ALWAYS AS IDENTITY",
    "ALTER TABLE fair_events ALTER COLUMN recorded_at SET DEFAULT now()",
)
_FAIR_INSERT = (
    "INSERT INTO fair_events (stream_id, stream_version, type, schema_version, data, metadata)"
    " SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[],"
    " $5::text[]::jsonb[], $6::text[]::jsonb[])"
)
_RAW_INSERT = (
    "INSERT INTO raw_events (stream_id, version, type, data, metadata) VALUES ($1,$2,$3,$4,$5)"
)

Writer = Callable[[int], Awaitable[None]]


async def _timed(writers: int, writer: Writer) -> float:
    """Seconds for `writers` concurrent writers to finish."""
    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return time.perf_counter() - started


async def bench_baton(url: str, writers: int, per_append: int, appends: int) -> float:
    pool = await create_pool(url, min_size=writers + 2, max_size=writers + 2)
    store = EventStore(pool)
    events = [NewEvent(EVENT_TYPE, DATA) for _ in range(per_append)]

    async def writer(w: int) -> None:
        stream, version = f"bench-{w}-{uuid.uuid4().hex[:6]}", 0
        for _ in range(appends // writers):
            await store.append(stream, events, expected_version=version, metadata=META)
            version += per_append

    elapsed = await _timed(writers, writer)
    await store.close()
    await pool.close()
    return (appends // writers) * writers * per_append / elapsed


async def bench_raw(url: str, writers: int, per_append: int, appends: int) -> float:
    conn = await asyncpg.connect(url)
    await conn.execute(
        "CREATE TABLE raw_events (id bigserial PRIMARY KEY, stream_id text, version bigint,"
        " type text, data jsonb, metadata jsonb)"
    )
    await conn.close()
    pool = await asyncpg.create_pool(url, min_size=writers, max_size=writers)
    assert pool is not None
    data, meta = json.dumps(DATA), json.dumps(META.to_json())

    async def writer(w: int) -> None:
        async with pool.acquire() as c:
            for i in range(appends // writers):
                rows = [
                    (f"raw-{w}", i * per_append + j, EVENT_TYPE, data, meta)
                    for j in range(per_append)
                ]
                if per_append == 1:
                    await c.execute(_RAW_INSERT, *rows[0])
                else:
                    async with c.transaction():
                        await c.executemany(_RAW_INSERT, rows)

    elapsed = await _timed(writers, writer)
    await pool.close()
    return (appends // writers) * writers * per_append / elapsed


async def bench_fair(url: str, writers: int, per_append: int, appends: int) -> float:
    """One multi-row INSERT per append (its own transaction) into baton's table, unguarded."""
    conn = await asyncpg.connect(url)
    for statement in _FAIR_DDL:
        await conn.execute(statement)
    await conn.close()
    pool = await asyncpg.create_pool(url, min_size=writers, max_size=writers)
    assert pool is not None
    data, meta = json.dumps(DATA), json.dumps(META.to_json())
    types, schemas = [EVENT_TYPE] * per_append, [1] * per_append
    datas, metas = [data] * per_append, [meta] * per_append

    async def writer(w: int) -> None:
        stream = f"fair-{w}-{uuid.uuid4().hex[:6]}"
        async with pool.acquire() as c:
            for i in range(appends // writers):
                versions = list(range(i * per_append + 1, (i + 1) * per_append + 1))
                await c.execute(
                    _FAIR_INSERT, [stream] * per_append, versions, types, schemas, datas, metas
                )

    elapsed = await _timed(writers, writer)
    await pool.close()
    return (appends // writers) * writers * per_append / elapsed


def bench_eventsourcing(url: str, writers: int, per_append: int, appends: int) -> float:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    p = libpq_params(url)
    datastore = PostgresDatastore(
        p["dbname"], p["host"], p["port"], p["user"], p["password"], pool_size=writers
    )
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()

    state = json.dumps({**DATA, "actor": "bench"}).encode()

    def writer(w: int) -> None:
        originator = uuid.uuid4()
        for i in range(appends // writers):
            recorder.insert_events(
                [
                    StoredEvent(
                        originator_id=originator,
                        originator_version=i * per_append + j,
                        topic="bench:Happened",
                        state=state,
                    )
                    for j in range(per_append)
                ]
            )

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(writer, range(writers)))
    elapsed = time.perf_counter() - started
    datastore.close()
    return (appends // writers) * writers * per_append / elapsed


async def measure(
    server: Server, contender: str, writers: int, per_append: int, appends: int
) -> float:
    """Events/s of one contender in a fresh database."""
    migrated = contender in ("baton", "fair")  # the fair table is copied from baton's
    async with server.database(migrated=migrated) as url:
        if contender == "baton":
            return await bench_baton(url, writers, per_append, appends)
        if contender == "fair":
            return await bench_fair(url, writers, per_append, appends)
        if contender == "raw":
            return await bench_raw(url, writers, per_append, appends)
        return await asyncio.to_thread(bench_eventsourcing, url, writers, per_append, appends)


async def cell(
    server: Server, writers: int, per_append: int, appends: int, runs: int
) -> dict[str, object]:
    """One result row: the median of `runs` runs of every contender."""
    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(runs):
        for name in CONTENDERS:
            samples[name].append(await measure(server, name, writers, per_append, appends))
    eps = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "writers": writers,
        "events_per_append": per_append,
        "baton_eps": round(eps["baton"]),
        "eventsourcing_eps": round(eps["eventsourcing"]),
        "raw_eps": round(eps["raw"]),
        "fair_eps": round(eps["fair"]),
        "baton_vs_eventsourcing": round(eps["baton"] / eps["eventsourcing"], 2),
        "baton_vs_raw": round(eps["baton"] / eps["raw"], 3),
        "baton_vs_fair": round(eps["baton"] / eps["fair"], 3),
        # the spread says how much to trust the median on a busy machine
        "baton_eps_range": [round(min(samples["baton"])), round(max(samples["baton"]))],
        "fair_eps_range": [round(min(samples["fair"])), round(max(samples["fair"]))],
    }


def table_row(r: dict[str, object]) -> tuple[object, ...]:
    """A result row as the table shows it."""
    return (
        r["writers"],
        r["events_per_append"],
        f"{r['baton_eps']:,}",
        f"{r['eventsourcing_eps']:,}",
        f"{r['raw_eps']:,}",
        f"{r['fair_eps']:,}",
        f"{r['baton_vs_eventsourcing']:.2f}×",
        f"{float(str(r['baton_vs_raw'])):.0%}",
        f"{float(str(r['baton_vs_fair'])):.0%}",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=2000, help="appends per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per cell (the median counts)")
    args = parser.parse_args()
    server = Server()
    try:
        version = await server.version()
        results = []
        for writers in (1, 4):
            for per_append in (1, 10):
                appends = args.appends if per_append == 1 else max(args.appends // 4, 40)
                results.append(await cell(server, writers, per_append, appends, args.runs))
        print_table(
            f"append throughput, events/s, median of {args.runs} runs"
            f" (PostgreSQL {version}, {server.kind})",
            [
                "writers",
                "events/append",
                "baton",
                "eventsourcing",
                "raw INSERT",
                "fair INSERT",
                "baton ÷ eventsourcing",
                "baton ÷ raw",
                "baton ÷ fair",
            ],
            [table_row(r) for r in results],
        )
        at4 = [r for r in results if r["writers"] == 4]
        print_json_line(
            {
                "benchmark": "append",
                "postgres": version,
                "runs": args.runs,
                "results": results,
                "target_met": all(
                    float(str(r["baton_vs_eventsourcing"])) >= 3
                    and float(str(r["baton_vs_fair"])) >= 0.85
                    for r in at4
                ),
            }
        )
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
