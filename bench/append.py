"""Append throughput: baton's store vs the eventsourcing library's recorder vs raw INSERTs.

All three write to the same Postgres in the same run, 1 and 4 concurrent writers, 1 and 10
events per append. baton keeps its ordering guarantee (gap-free positions in commit order,
hash chain); the raw ceiling has no ordering guard at all.

    python bench/append.py [--appends N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._db import Server, libpq_params, print_json_line, print_table
from engine.store import EventMetadata, EventStore, NewEvent
from engine.store.database import create_pool

DATA = {"app": "shop", "environment": "prod", "release": "a" * 40, "actor": "alice"}
META = EventMetadata(actor="bench", correlation_id="c", traceparent=None)


async def bench_baton(url: str, writers: int, per_append: int, appends: int) -> float:
    pool = await create_pool(url, min_size=writers + 2, max_size=writers + 2)
    store = EventStore(pool)
    events = [NewEvent("Bench.Happened", DATA) for _ in range(per_append)]

    async def writer(w: int) -> None:
        stream, version = f"bench-{w}-{uuid.uuid4().hex[:6]}", 0
        for _ in range(appends // writers):
            await store.append(stream, events, expected_version=version, metadata=META)
            version += per_append

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
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
    sql = (
        "INSERT INTO raw_events (stream_id, version, type, data, metadata) VALUES ($1,$2,$3,$4,$5)"
    )
    import json

    data, meta = json.dumps(DATA), json.dumps(META.to_json())

    async def writer(w: int) -> None:
        async with pool.acquire() as c:
            for i in range(appends // writers):
                rows = [
                    (f"raw-{w}", i * per_append + j, "Bench", data, meta) for j in range(per_append)
                ]
                if per_append == 1:
                    await c.execute(sql, *rows[0])
                else:
                    async with c.transaction():
                        await c.executemany(sql, rows)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=2000, help="appends per cell")
    args = parser.parse_args()
    server = Server()
    try:
        version = await server.version()
        rows, results = [], []
        for writers in (1, 4):
            for per_append in (1, 10):
                appends = args.appends if per_append == 1 else max(args.appends // 4, 40)
                figures = {}
                async with server.database() as url:
                    figures["baton"] = await bench_baton(url, writers, per_append, appends)
                async with server.database(migrated=False) as url:
                    figures["eventsourcing"] = await asyncio.to_thread(
                        bench_eventsourcing, url, writers, per_append, appends
                    )
                async with server.database(migrated=False) as url:
                    figures["raw"] = await bench_raw(url, writers, per_append, appends)
                vs_es = figures["baton"] / figures["eventsourcing"]
                vs_raw = figures["baton"] / figures["raw"]
                rows.append(
                    (
                        writers,
                        per_append,
                        f"{figures['baton']:,.0f}",
                        f"{figures['eventsourcing']:,.0f}",
                        f"{figures['raw']:,.0f}",
                        f"{vs_es:.2f}×",
                        f"{vs_raw:.0%}",
                    )
                )
                results.append(
                    {
                        "writers": writers,
                        "events_per_append": per_append,
                        "baton_eps": round(figures["baton"]),
                        "eventsourcing_eps": round(figures["eventsourcing"]),
                        "raw_eps": round(figures["raw"]),
                        "baton_vs_eventsourcing": round(vs_es, 2),
                        "baton_vs_raw": round(vs_raw, 3),
                    }
                )
        print_table(
            f"append throughput, events/s (PostgreSQL {version}, {server.kind})",
            [
                "writers",
                "events/append",
                "baton",
                "eventsourcing",
                "raw INSERT",
                "baton ÷ eventsourcing",
                "baton ÷ raw",
            ],
            rows,
        )
        at4 = [r for r in results if r["writers"] == 4]
        print_json_line(
            {
                "benchmark": "append",
                "postgres": version,
                "results": results,
                "target_met": all(
                    float(r["baton_vs_eventsourcing"]) >= 3 and float(r["baton_vs_raw"]) >= 0.5
                    for r in at4
                ),
            }
        )
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
