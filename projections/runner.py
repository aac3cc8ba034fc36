"""The projection runner: feeds new events to each projection, exactly once.

Each projection runs in its own task of the process's supervisor (``projection:<name>``),
started again after a failure such as a lost database. A step locks the projection's checkpoint row,
reads the next batch after it, applies it and moves the checkpoint, all in one
transaction: a crash anywhere leaves either the whole batch or none of it, and two baton
processes never apply the same batch. Steps wake on NOTIFY and poll as a fallback. A
failing projection records its error (position, event type, message), backs off and
retries one event at a time until past the culprit, without stopping the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import asyncpg
from opentelemetry import trace

from engine.backoff import Backoff
from engine.store.listen import Listener
from engine.supervisor import Supervisor, supervised_until_cancelled
from engine.telemetry import context_of, link_to
from projections.base import Projection
from projections.catalog import all_projections
from projections.feed import apply_range, head_position, upcast_log
from projections.rebuild import rebuild

log = logging.getLogger(__name__)
tracer = trace.get_tracer("baton.projections")
_ENSURE_LOCK = 0x0BA7_0003
NOTIFY_CHANNEL = "baton_events"


@dataclass(frozen=True)
class ProjectionStatus:
    """Where a projection stands."""

    name: str
    version: int
    position: int
    head: int
    updated_at: datetime | None
    last_error: str | None

    @property
    def lag(self) -> int:
        """Events in the log that the projection has not applied yet."""
        return max(self.head - self.position, 0)


async def projection_status(conn: asyncpg.Connection) -> list[ProjectionStatus]:
    """Checkpoints, lag and last error of every projection."""
    head = await head_position(conn)
    rows = await conn.fetch(
        "SELECT name, version, position, updated_at, last_error FROM projection_checkpoints"
        " ORDER BY name"
    )
    return [
        ProjectionStatus(
            r["name"], r["version"], r["position"], head, r["updated_at"], r["last_error"]
        )
        for r in rows
    ]


class ProjectionRunner:
    """Keeps projections up to date with the log."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.pool = pool
        self.projections = list(projections) if projections is not None else all_projections()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._backoff = Backoff(base=0.4, cap=max_backoff)
        self._wake = {p.name: asyncio.Event() for p in self.projections}
        self._advanced = asyncio.Condition()
        self._supervisor: Supervisor | None = None
        self._listener: Listener | None = None

    async def ensure(self) -> list[str]:
        """Upcast the log's older events, create missing projections, rebuild those whose
        version changed. Returns the rebuilt."""
        async with self.pool.acquire() as conn:
            await upcast_log(conn)
            await conn.execute("SELECT pg_advisory_lock($1)", _ENSURE_LOCK)
            try:
                versions = {
                    r["name"]: r["version"]
                    for r in await conn.fetch("SELECT name, version FROM projection_checkpoints")
                }
                stale = []
                for projection in self.projections:
                    if projection.name not in versions:
                        async with conn.transaction():
                            await conn.execute(projection.table_ddl())
                            await conn.execute(projection.index_ddl())
                            await conn.execute(
                                "INSERT INTO projection_checkpoints (name, version) "
                                "VALUES ($1, $2)",
                                projection.name,
                                projection.version,
                            )
                    elif versions[projection.name] != projection.version:
                        stale.append(projection)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _ENSURE_LOCK)
        if stale:
            log.info(
                "rebuilding projections whose version changed: %s", ", ".join(p.name for p in stale)
            )
            await rebuild(self.pool, stale)
        return [p.name for p in stale]

    async def step(self, projection: Projection, *, limit: int | None = None) -> int:
        """Apply one batch; returns how many events it covered (0: caught up)."""
        async with self.pool.acquire() as conn, conn.transaction():
            position: int = await conn.fetchval(
                "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
                projection.name,
            )
            end = min(await head_position(conn), position + (limit or self.batch_size))
            if end <= position:
                return 0
            with await _batch_span(conn, projection.name, position, end):
                try:
                    await apply_range(conn, [projection], after=position, upto=end)
                except Exception as exc:
                    raise ProjectionFailed(projection.name, position, end, exc) from exc
            await conn.execute(
                "UPDATE projection_checkpoints SET position = $2, updated_at = now(),"
                " last_error = NULL, error_at = NULL WHERE name = $1",
                projection.name,
                end,
            )
        async with self._advanced:
            self._advanced.notify_all()
        return end - position

    async def catch_up(self) -> int:
        """Run every projection until it has applied the whole log; returns events applied."""
        total = 0
        for projection in self.projections:
            while applied := await self.step(projection):
                total += applied
        return total

    async def run(self) -> None:
        """Run until cancelled: one task per projection, woken by NOTIFY or the poll."""
        await self.ensure()
        await supervised_until_cancelled(self.start, self.stop)

    async def start(self, supervisor: Supervisor) -> None:
        """Start each projection's loop, and the NOTIFY listener, under `supervisor`
        (call :meth:`ensure` first)."""
        self._supervisor = supervisor
        # quiet when the database is away: the loops poll, and the keeper listens later
        self._listener = listener = await Listener.start(self.pool, NOTIFY_CHANNEL, self._notified)
        supervisor.start("projection-listen", partial(listener.keep_listening, every=5.0))
        for projection in self.projections:
            supervisor.start(_task(projection), partial(self._loop, projection))

    async def stop(self) -> None:
        """Stop the loops and the listener started by :meth:`start`."""
        supervisor, self._supervisor = self._supervisor, None
        listener, self._listener = self._listener, None
        try:
            if supervisor is not None:
                names = ["projection-listen", *(_task(p) for p in self.projections)]
                await asyncio.gather(*(supervisor.remove(name) for name in names))
        finally:
            if listener is not None:
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await listener.close()

    def _notified(self, *_: object) -> None:
        for wake in self._wake.values():
            wake.set()

    async def _loop(self, projection: Projection) -> None:
        wake = self._wake[projection.name]
        failures = 0
        while True:
            wake.clear()
            try:
                # after a failure, one event at a time: the error then names the culprit
                applied = await self.step(projection, limit=1 if failures else None)
            except ProjectionFailed as failure:
                # a lost database is the supervisor's to retry; this is about the events
                failures += 1
                await self._record_failure(failure)
                await asyncio.sleep(self._backoff.delay(failures))
                continue
            failures = 0
            if applied:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await wake.wait()

    async def _record_failure(self, failure: ProjectionFailed) -> None:
        try:
            async with self.pool.acquire() as conn:
                first_type = await conn.fetchval(
                    "SELECT type FROM events WHERE position = $1", failure.after + 1
                )
                message = failure.describe(first_type)
                log.error("%s", message)
                await conn.execute(
                    "UPDATE projection_checkpoints SET last_error = $2, error_at = now()"
                    " WHERE name = $1",
                    failure.projection,
                    message,
                )
        except (OSError, asyncpg.PostgresError):
            log.error("%s (could not record it)", failure)

    async def wait_for(self, position: int) -> None:
        """Wait until every projection has applied `position` (read-your-writes).

        Callers bound the wait with `asyncio.timeout`.
        """

        async def reached() -> bool:
            async with self.pool.acquire() as conn:
                low = await conn.fetchval(
                    "SELECT min(position) FROM projection_checkpoints WHERE name = ANY($1)",
                    [p.name for p in self.projections],
                )
            return low is not None and low >= position

        while not await reached():
            async with self._advanced:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await self._advanced.wait()


def _task(projection: Projection) -> str:
    """The name of `projection`'s loop among the supervisor's tasks."""
    return f"projection:{projection.name}"


async def _batch_span(
    conn: asyncpg.Connection, name: str, after: int, upto: int
) -> AbstractContextManager[trace.Span]:
    """A span for one batch, continuing the trace of its first traced event and linking
    the others, so a promotion's trace shows its projection step."""
    traceparents = [
        r["traceparent"]
        for r in await conn.fetch(
            "SELECT traceparent FROM (SELECT DISTINCT ON (metadata->>'traceparent')"
            " metadata->>'traceparent' AS traceparent, position FROM events"
            " WHERE position > $1 AND position <= $2 AND metadata ? 'traceparent'"
            " ORDER BY metadata->>'traceparent', position) t ORDER BY position LIMIT 32",
            after,
            upto,
        )
    ]
    links = [link for tp in traceparents[1:] if (link := link_to(tp)) is not None]
    return tracer.start_as_current_span(
        f"project {name}",
        context=context_of(traceparents[0]) if traceparents else None,
        links=links,
        attributes={"baton.projection": name, "baton.after": after, "baton.upto": upto},
    )


class ProjectionFailed(Exception):
    """A projection could not apply the events at positions (after, upto]."""

    def __init__(self, projection: str, after: int, upto: int, cause: Exception) -> None:
        self.projection = projection
        self.after = after
        self.upto = upto
        self.cause = cause
        super().__init__(self.describe(None))

    def describe(self, first_type: str | None) -> str:
        """The failure, naming the position(s) and the first event's type."""
        kind = f" ({first_type})" if first_type else ""
        where = (
            f"position {self.upto}{kind}"
            if self.upto == self.after + 1
            else f"positions {self.after + 1}-{self.upto} (from{kind or ' ?'})"
        )
        return (
            f"projection {self.projection} failed at {where}: "
            f"{type(self.cause).__name__}: {self.cause}"
        )
