"""Replay: rebuild projections from the whole log into a scratch schema, then swap.

Readers keep seeing the old tables until one short transaction, which locks the
projections' checkpoints (so live runners pause), applies the last events, drops the old
tables and moves the new ones in. `verify` builds the same way and compares instead. Both
first give every event stored in an older shape its current one (`feed.upcast_log`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from engine.backoff import Backoff, retry
from projections.base import WHOLE_LOG_TIMEOUT, Projection, RangeProjection, RowProjection
from projections.feed import apply_batch, head_position, upcast_log

REBUILD_SCHEMA = "baton_rebuild"
VERIFY_SCHEMA = "baton_verify"
_LOCK = 0x0BA7_0002  # one rebuild or verify at a time
#: how long the swap waits for a live table before it gives up and tries again: readers
#: queued behind it wait no longer than this, and never meet a deadlock (1 s to detect)
_SWAP_LOCK_TIMEOUT = "100ms"
_SWAP_ATTEMPTS = 30
_SWAP_BACKOFF = Backoff(base=0.02, cap=1.0)
# Loading the whole log at once sorts and hashes it: in memory rather than in temporary
# files, and index builds sort in memory too. Its row estimates, compounded through a dozen
# CTEs, are astronomical (and the state statement disables nested loops, which inflates
# its cost even for a tiny log): Postgres would JIT-compile and optimise a hundred
# functions for the history statement, costing more (0.6-1 s) than they save. Each
# projection loads on its own backend, which keeps every core busy: workers for an index
# build only add their start-up and a merge of their sorts (0.5 s a rebuild). Per
# transaction, only while rebuilding.
BULK_SETTINGS = (
    "SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB';"
    " SET LOCAL jit = off; SET LOCAL max_parallel_maintenance_workers = 0"
)
# The tables' statistics right after a rebuild sample 3,000 rows rather than 30,000: the
# read models' queries are key and index lookups, which plan the same from the smaller
# sample, and the full sample of the state tables' wide rows took a second, at the end of
# the rebuild, when the other core has nothing left to do. Autovacuum refreshes them with
# the server's own target as the tables change.
ANALYZE_SAMPLE = "SET LOCAL default_statistics_target = 10"


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did."""

    projections: list[str]
    events: int
    position: int
    seconds: float


@dataclass(frozen=True)
class TableDifference:
    """Rows one side has and the other lacks."""

    table: str
    only_live: int
    only_rebuilt: int
    sample: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of `replay --verify`."""

    projections: list[str]
    position: int
    differences: list[TableDifference]

    @property
    def ok(self) -> bool:
        """True when the live read models equal a rebuild from the log."""
        return not self.differences


#: how many projections a rebuild loads at once while a server answers reads from the old
#: tables: each load keeps a core busy, and with every projection loading at once on two
#: cores, reads waited seconds (measured with `bench/replay.py`'s open-loop readers)
BESIDE_READERS = 1


async def _build(
    pool: asyncpg.Pool,
    projections: Sequence[Projection],
    schema: str,
    batch_size: int,
    loads_at_once: int | None = None,
) -> dict[str, int]:
    """Create the tables in `schema` and load the whole log; returns each one's position.

    Each projection loads on its own connection, concurrently (a backend, so a core, each),
    at most `loads_at_once` at a time (None: all). Range projections and row projections
    with a set-wise `load` take the log up to the head in one statement; what others have,
    and what arrives meanwhile, goes batch by batch.
    """
    async with pool.acquire() as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    turns = asyncio.Semaphore(loads_at_once or len(projections) or 1)

    async def load(projection: Projection) -> int:
        tables = ", ".join(f"{schema}.{t}" for t in projection.tables)
        async with turns, pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute(f"{_in_schema(schema)}; {BULK_SETTINGS}")
                await conn.execute(projection.table_ddl())
                position = await head_position(conn)
                if isinstance(projection, RangeProjection):
                    await projection.apply_range(conn, 0, position)
                elif isinstance(projection, RowProjection):
                    position = await projection.load(conn, position)
                # keys and indexes once the bulk is in (the batches below upsert on keys)
                await conn.execute(projection.index_ddl(), timeout=WHOLE_LOG_TIMEOUT)
            batches = 0
            while True:
                async with conn.transaction():
                    await conn.execute(_in_schema(schema))
                    new = await apply_batch(conn, [projection], after=position, limit=batch_size)
                if new == position:
                    break
                position, batches = new, batches + 1
                if batches & (batches - 1) == 0:
                    # fresh tables have no statistics; without them the planner scans whole
                    # tables for each batch's lookups. Refresh as they double in size.
                    await conn.execute(f"ANALYZE {tables}")
            # statistics for the planner, while other projections are still loading
            async with conn.transaction():
                await conn.execute(f"{ANALYZE_SAMPLE}; ANALYZE {tables}", timeout=WHOLE_LOG_TIMEOUT)
            return position

    async def vacuum(projection: Projection) -> None:
        tables = ", ".join(f"{schema}.{t}" for t in projection.tables)
        async with pool.acquire() as conn:
            await conn.execute(f"VACUUM {tables}", timeout=WHOLE_LOG_TIMEOUT)

    positions = await asyncio.gather(*(load(p) for p in projections))
    # Done here, the work autovacuum would start on every rebuilt table soon after the swap,
    # on the cores readers need; and the first readers do not set hint bits on each page
    # they read. Only once every load has committed: rows are not visible to all while
    # another load's transaction is still open, and vacuum would leave their pages as it
    # found them. One connection per projection: the last loads end one by one, and a
    # single VACUUM would leave a core idle at the end of every rebuild.
    await asyncio.gather(*(vacuum(p) for p in projections))
    return {p.name: position for p, position in zip(projections, positions, strict=True)}


def _in_schema(schema: str) -> str:
    return f"SET LOCAL search_path TO {schema}, public"


async def _catch_up(
    conn: asyncpg.Connection,
    projections: Sequence[Projection],
    schema: str,
    *,
    positions: dict[str, int],
    upto: int,
    batch_size: int,
) -> None:
    """Bring each projection in `schema` from its position to `upto`, in this transaction."""
    await conn.execute(_in_schema(schema))
    for projection in projections:
        position = positions.get(projection.name, 0)
        while position < upto:
            position = await apply_batch(
                conn, [projection], after=position, limit=batch_size, upto=upto
            )
    await conn.execute("SET LOCAL search_path TO public")


async def _move_statistics(conn: asyncpg.Connection) -> None:
    """Move the rebuilt tables' extended statistics to public (a table moves without them)."""
    names = await conn.fetch(
        "SELECT stxname FROM pg_statistic_ext WHERE stxnamespace = $1::regnamespace",
        REBUILD_SCHEMA,
    )
    for row in names:
        await conn.execute(f"ALTER STATISTICS {REBUILD_SCHEMA}.{row['stxname']} SET SCHEMA public")


async def _lock_checkpoints(
    conn: asyncpg.Connection, projections: Sequence[Projection]
) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT name, position FROM projection_checkpoints WHERE name = ANY($1::text[])"
        " ORDER BY name FOR UPDATE",
        [p.name for p in projections],
    )
    return {r["name"]: r["position"] for r in rows}


async def _swap_in(
    conn: asyncpg.Connection,
    projections: Sequence[Projection],
    positions: dict[str, int],
    batch_size: int,
) -> int:
    """Catch the rebuilt tables up to the head and put them in place of the live ones, in
    one transaction; returns the head. Readers never wait on it long nor fail: every live
    table is locked in one statement with a short `lock_timeout`, so a reader that holds
    one while it waits for another makes the swap give up (and try again) long before
    Postgres would look for a deadlock and fail one of them."""
    async with conn.transaction():
        await _lock_checkpoints(conn, projections)
        head = await head_position(conn)
        await _catch_up(
            conn, projections, REBUILD_SCHEMA, positions=positions, upto=head,
            batch_size=batch_size,
        )  # fmt: skip
        await conn.execute(f"SET LOCAL lock_timeout = '{_SWAP_LOCK_TIMEOUT}'")
        live = await conn.fetchval(
            "SELECT array_agg(t) FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL",
            [f"public.{table}" for projection in projections for table in projection.tables],
        )
        if live:
            await conn.execute(f"LOCK TABLE {', '.join(live)} IN ACCESS EXCLUSIVE MODE")
        for projection in projections:
            for table in projection.tables:
                await conn.execute(
                    f"DROP TABLE IF EXISTS public.{table} CASCADE;"
                    f" ALTER TABLE {REBUILD_SCHEMA}.{table} SET SCHEMA public"
                )
            await conn.execute(
                "INSERT INTO projection_checkpoints (name, version, position)"
                " VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET"
                " version = $2, position = $3, updated_at = now(), last_error = NULL",
                projection.name,
                projection.version,
                head,
            )
        await _move_statistics(conn)
        await conn.execute(f"DROP SCHEMA {REBUILD_SCHEMA} CASCADE")
    return head


async def rebuild(
    pool: asyncpg.Pool,
    projections: Sequence[Projection],
    *,
    batch_size: int = 20_000,
    loads_at_once: int | None = None,
) -> RebuildReport:
    """Rebuild `projections` from position 0 and swap them in atomically.

    `loads_at_once` caps the projections loading at the same time (None: all of them, a
    core each, the fastest); a server that answers reads meanwhile asks for 1, leaving it
    the other core.
    """
    started = time.perf_counter()
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK)
        try:
            await upcast_log(conn)
            positions = await _build(pool, projections, REBUILD_SCHEMA, batch_size, loads_at_once)
            # readers held a table: they went first, and the swap tries again
            head = await retry(
                lambda: _swap_in(conn, projections, positions, batch_size),
                attempts=_SWAP_ATTEMPTS,
                on=(asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError),
                wait=lambda n, _: _SWAP_BACKOFF.delay(n),
            )
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    return RebuildReport([p.name for p in projections], head, head, time.perf_counter() - started)


async def verify(
    pool: asyncpg.Pool, projections: Sequence[Projection], *, batch_size: int = 20_000
) -> VerifyReport:
    """Rebuild into scratch tables and compare with the live ones at the same position."""
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK)
        try:
            await upcast_log(conn)
            positions = await _build(pool, projections, VERIFY_SCHEMA, batch_size)
            async with conn.transaction():
                live = await _lock_checkpoints(conn, projections)
                head = await head_position(conn)
                await _catch_up(
                    conn,
                    projections,
                    VERIFY_SCHEMA,
                    positions=positions,
                    upto=head,
                    batch_size=batch_size,
                )
                # bring the live projections to the same position (real progress: kept)
                await _catch_up(
                    conn, projections, "public", positions=live, upto=head, batch_size=batch_size
                )
                await conn.execute(
                    "UPDATE projection_checkpoints SET position = $2, updated_at = now()"
                    " WHERE name = ANY($1::text[])",
                    [p.name for p in projections],
                    head,
                )
                differences = [
                    d
                    for p in projections
                    for t in p.tables
                    if (d := await _compare(conn, t)) is not None
                ]
            await conn.execute(f"DROP SCHEMA {VERIFY_SCHEMA} CASCADE")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    return VerifyReport([p.name for p in projections], head, differences)


async def _compare(conn: asyncpg.Connection, table: str) -> TableDifference | None:
    live, rebuilt = f"public.{table}", f"{VERIFY_SCHEMA}.{table}"
    only_live = await conn.fetch(
        f"SELECT t::text AS row FROM (SELECT * FROM {live} EXCEPT ALL SELECT * FROM {rebuilt})"
        " t LIMIT 1000"
    )
    only_rebuilt = await conn.fetch(
        f"SELECT t::text AS row FROM (SELECT * FROM {rebuilt} EXCEPT ALL SELECT * FROM {live})"
        " t LIMIT 1000"
    )
    if not only_live and not only_rebuilt:
        return None
    sample = [f"live only: {r['row']}" for r in only_live[:3]]
    sample += [f"rebuilt only: {r['row']}" for r in only_rebuilt[:3]]
    return TableDifference(table, len(only_live), len(only_rebuilt), sample)
