"""The event store on asyncpg: append with optimistic concurrency, read, subscribe.

Appends go through the `baton_append` SQL function (migration 001_events.sql), which
locks the head row, checks each stream's expected version, chains the hash and notifies
listeners. Readers read by global position; because appends commit in position order,
a reader that has seen position N has seen everything before it. Every read goes through
`row_to_event`, which gives an event stored in an older shape in its current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import asyncpg
import orjson
from opentelemetry import trace

from engine.domain.vocabulary import EventType, sql_list
from engine.metrics import APPEND_SECONDS
from engine.store.append_call import AppendCall
from engine.store.errors import (
    DATABASE_UNAVAILABLE,
    AppendOutcomeUnknown,
    ConcurrencyError,
    EventValidationError,
    KeyTakenOver,
)
from engine.store.group_commit import AppendRequest, GroupCommit
from engine.store.idempotency import KeyAnswer
from engine.store.listen import Listener
from engine.store.release import give_back
from engine.store.types import (
    AppendResult,
    EventMetadata,
    NewEvent,
    RecordedEvent,
    Upcaster,
    check_identifier,
    encode_json,
)

NOTIFY_CHANNEL = "baton_events"
tracer = trace.get_tracer("baton.store")
_SELECT = (
    "SELECT position, stream_id, stream_version, type, schema_version, data, metadata,"
    " recorded_at, hash FROM events"
)
_STREAM_CONFLICT = "BT409"
_KEY_TAKEN_OVER = "BT410"
#: how long the store waits for a connection to find out whether a lost append committed
_RESOLVE_TIMEOUT_S = 2.0
#: how long giving the writer back on close may take before it is cut instead
_RELEASE_S = 5.0
#: what a connection that died mid-call raises: the errors of a server that went away, or
#: asyncpg's InterfaceError ("connection is closed"), or a call that timed out
_LOST = (*DATABASE_UNAVAILABLE, asyncpg.InterfaceError, TimeoutError)

#: the request of promotion $1, as a CTE named `requested` (its stream, version and
#: position). The type is in the text, where the planner matches it to the predicate of
#: migration 003's partial index; the field is read as stored, as the index holds it. The
#: first step is MATERIALIZED: planned with the `ORDER BY position LIMIT 1` around it, the
#: lookup walked the whole log in position order instead (200 ms at 1M events, not 1.4).
PROMOTION_REQUEST = f"""
found AS MATERIALIZED (
    SELECT stream_id, stream_version, position FROM events
     WHERE type = {sql_list(EventType.PROMOTION_REQUESTED)} AND data->>'promotion_id' = $1
), requested AS (
    SELECT stream_id, stream_version FROM found ORDER BY position LIMIT 1
)"""

EncodedEvent = tuple[str, int, str, str]  # type, schema version, data json, metadata json


def row_to_event(row: asyncpg.Record, upcaster: Upcaster | None = None) -> RecordedEvent:
    """Turn an `events` row into a RecordedEvent, its data in the current shape when an
    `upcaster` is given."""
    metadata = row["metadata"]
    version, data = row["schema_version"], row["data"]
    if upcaster is not None:
        version, data = upcaster.current(row["type"], version, data)
    return RecordedEvent(
        position=row["position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        type=row["type"],
        schema_version=version,
        data=data,
        metadata=EventMetadata.from_json(metadata, row["recorded_at"]),
        recorded_at=row["recorded_at"],
        hash=bytes(row["hash"]),
    )


def encode_batch(
    stream_id: str, events: Sequence[NewEvent], metadata: EventMetadata
) -> list[EncodedEvent]:
    """Validate and serialise one stream's events; raises before anything is written."""
    check_identifier("stream id", stream_id)
    if not events:
        raise EventValidationError(f"an append to stream {stream_id!r} needs at least one event")
    meta_json = encode_json("metadata", metadata.to_json())
    encoded = []
    for index, event in enumerate(events):
        where = f"event {index} of the append to {stream_id!r}"
        check_identifier(f"{where}: type", event.type)
        if not isinstance(event.schema_version, int) or event.schema_version < 1:
            raise EventValidationError(f"{where}: schema_version must be an integer >= 1")
        data_json = encode_json(f"{where} ({event.type}): data", event.data)
        encoded.append((event.type, event.schema_version, data_json, meta_json))
    return encoded


class EventStore:
    """Appends to and reads from the `events` table through an asyncpg pool.

    `upcaster` (the domain's `engine.codec.EventRegistry`, as `engine.runtime` passes it):
    every read gives events in their current shape; without one, as they were stored.
    """

    def __init__(self, pool: asyncpg.Pool, *, upcaster: Upcaster | None = None) -> None:
        self.pool = pool
        self.upcaster = upcaster
        self._group = GroupCommit(self._flush)
        # Appends are serialised anyway; one held connection spares each append the
        # pool's reset round trip on release.
        self._writer: asyncpg.Connection | None = None
        self._writer_session: tuple[Any, ...] = ()

    async def close(self) -> None:
        """Give the writer connection back to the pool."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await give_back(self.pool, writer, within=_RELEASE_S)

    async def _writer_connection(self) -> asyncpg.Connection:
        if self._writer is not None:
            try:
                closed = self._writer.is_closed()
            except asyncpg.InterfaceError:  # given back to the pool by a failed release
                closed = True
            if closed:
                await self._drop_writer()
        if self._writer is None:
            self._writer = writer = await self.pool.acquire()
            # its server session, to end it for sure should the connection be lost mid-call
            self._writer_session = tuple(
                await writer.fetchrow(
                    "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
                )
            )
        return self._writer

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        answer: KeyAnswer | None = None,
    ) -> AppendResult:
        """Append `events` to a stream at `expected_version` (None: any version).

        Raises ConcurrencyError when the stream has moved on; nothing is written then.
        `answer`: an idempotency key's answer, committed in the same transaction.
        """
        encoded = encode_batch(stream_id, events, metadata)
        request = AppendRequest(
            streams=[(stream_id, expected_version, encoded)], atomic=False, answer=answer
        )
        with tracer.start_as_current_span(
            "append", attributes={"baton.stream": stream_id, "baton.events": len(events)}
        ) as span:
            started = time.perf_counter()
            (result,) = await self._group.submit(request)
            APPEND_SECONDS.observe(time.perf_counter() - started)
            span.set_attribute("baton.stream_version", result.last_version)
            span.set_attribute("baton.position", result.last_position)
        return result

    async def append_many(
        self,
        batches: Sequence[tuple[str, Sequence[NewEvent], int | None]],
        *,
        metadata: EventMetadata,
        answer: KeyAnswer | None = None,
    ) -> list[AppendResult]:
        """Append to several streams in one transaction: all batches or none."""
        streams = [
            (stream_id, expected, encode_batch(stream_id, events, metadata))
            for stream_id, events, expected in batches
        ]
        with tracer.start_as_current_span(
            "append", attributes={"baton.streams": [s for s, _, _ in streams]}
        ) as span:
            started = time.perf_counter()
            results = await self._group.submit(
                AppendRequest(streams=streams, atomic=True, answer=answer)
            )
            APPEND_SECONDS.observe(time.perf_counter() - started)
            span.set_attribute("baton.position", results[-1].last_position)
        return results

    async def _flush(self, requests: Sequence[AppendRequest]) -> None:
        """Send a group of requests as one call; settle every request's future."""
        try:
            await self._call(requests)
        except asyncpg.PostgresError as exc:
            unavailable = isinstance(exc, DATABASE_UNAVAILABLE)
            if len(requests) == 1 or unavailable or exc.sqlstate == _STREAM_CONFLICT:
                _settle_error(requests, exc)
                return
            # One bad request must not fail its neighbours: retry each on its own.
            for request in requests:
                try:
                    await self._call([request])
                except asyncpg.PostgresError as single:
                    _settle_error([request], single)
        except BaseException as exc:
            _settle_error(requests, exc)
            raise

    async def _call(self, requests: Sequence[AppendRequest]) -> None:
        call = AppendCall.of(requests)
        conn = await self._writer_connection()  # a failure here sent nothing: plain error
        session = self._writer_session
        try:
            try:
                rows = await call.run(conn)
            except _LOST as exc:
                await self._drop_writer()
                rows = await self._after_lost_call(call, exc, session)
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == _KEY_TAKEN_OVER:
                raise KeyTakenOver(str(exc)) from None
            raise
        call.settle(rows)

    async def _drop_writer(self) -> None:
        """Forget the writer connection and every idle one: the server went away."""
        writer, self._writer = self._writer, None
        if writer is not None:
            # a release that failed may have handed it back to the pool already
            with contextlib.suppress(asyncpg.InterfaceError):
                writer.terminate()
            with contextlib.suppress(Exception):
                await self.pool.release(writer)
        # idle connections died with it: open new ones rather than fail once on each
        await self.pool.expire_connections()

    async def _after_lost_call(
        self, call: AppendCall, exc: BaseException, session: tuple[Any, ...]
    ) -> list[dict[str, Any]]:
        """The connection died with `call` in flight: learn from the log whether it committed.

        The lost session is ended first (a cut network leaves it running, maybe about to
        commit), so that what the log says is final. A call is one transaction. Where every
        batch names its expected version, the log says it: if any batch's events stand at
        the versions after it, the call committed (the other batches were conflicts); if
        none does, nothing was written and the call is sent once more, where the versions
        guard against a double write.
        """
        unknown = AppendOutcomeUnknown(call.streams, exc)
        if any(expected is None for _, expected, _ in call.batches):
            raise unknown from exc
        try:
            async with asyncio.timeout(_RESOLVE_TIMEOUT_S), self.pool.acquire() as conn:
                if session and await conn.fetchval(
                    "SELECT NOT pg_terminate_backend(pid, 1000) FROM pg_stat_activity"
                    " WHERE pid = $1 AND backend_start = $2",
                    *session,
                ):
                    raise unknown from exc  # still running: its outcome is not settled yet
                committed = await call.find_committed(conn)
                if committed is None:
                    return await call.run(conn)
                return committed
        except _LOST:
            raise unknown from exc

    async def read_stream(self, stream_id: str, *, after_version: int = 0) -> list[RecordedEvent]:
        """Every event of a stream after `after_version`, oldest first."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"{_SELECT} WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version",
                stream_id,
                after_version,
            )
        return [row_to_event(row, self.upcaster) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version (0 when it has no events)."""
        return (await self.stream_versions([stream_id]))[0]

    async def stream_versions(self, stream_ids: Sequence[str]) -> list[int]:
        """The current version of each stream (0 for one with no events), in one query."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT (SELECT coalesce(max(stream_version), 0) FROM events"
                "         WHERE stream_id = s.id)"
                "  FROM unnest($1::text[]) WITH ORDINALITY AS s (id, n) ORDER BY s.n",
                list(stream_ids),
            )
        return [r[0] for r in rows]

    async def read_snapshot(self, stream_id: str, code: str) -> tuple[int, dict[str, Any]] | None:
        """(version, state) of the stream's snapshot taken by `code`, if there is one."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT version, state FROM snapshots WHERE stream_id = $1 AND code = $2",
                stream_id,
                code,
            )
        return None if row is None else (row["version"], row["state"])

    async def write_snapshot(
        self, stream_id: str, version: int, code: str, state: dict[str, Any]
    ) -> None:
        """Keep this snapshot of the stream, unless one as recent by the same code is kept."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO snapshots (stream_id, version, code, state)"
                " VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version,"
                " code = EXCLUDED.code, state = EXCLUDED.state, taken_at = now()"
                " WHERE snapshots.code <> EXCLUDED.code OR snapshots.version < EXCLUDED.version",
                stream_id,
                version,
                code,
                state,
            )

    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to `limit` events after global position `after`, in order."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"{_SELECT} WHERE position > $1 ORDER BY position LIMIT $2", after, limit
            )
        return [row_to_event(row, self.upcaster) for row in rows]

    async def promotion_stream(self, promotion_id: str) -> str | None:
        """The stream of the target where promotion `promotion_id` was requested, if any.

        Read from the log itself (`PROMOTION_REQUEST`, indexed by migration 003), so a
        promotion is found the moment its request is committed, before any projection has
        seen it (a PromotionRequested version 2 that moved `promotion_id` would need an
        index of its own).
        """
        async with self.pool.acquire() as conn:
            stream_id: str | None = await conn.fetchval(
                f"WITH {PROMOTION_REQUEST} SELECT stream_id FROM requested", promotion_id
            )
        return stream_id

    async def head_position(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        async with self.pool.acquire() as conn:
            position: int = await conn.fetchval("SELECT position FROM event_head")
        return position

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, after: int = 0, batch_size: int = 1000, poll_interval: float = 1.0
    ) -> AsyncIterator[AsyncIterator[list[RecordedEvent]]]:
        """Batches of the events after `after`, forever: woken by NOTIFY, else by polling.

        A context, not a bare generator: however the caller's loop ends (its body raised,
        or it was cancelled at an await of its own), leaving the context gives the LISTEN
        connection back at once. A generator left suspended at its `yield` keeps it until
        the garbage collector finds it, and the pool's close waits for it for ever.
        """
        async with contextlib.aclosing(self._batches(after, batch_size, poll_interval)) as found:
            yield found

    async def _batches(
        self, after: int, batch_size: int, poll_interval: float
    ) -> AsyncGenerator[list[RecordedEvent], None]:
        wake = asyncio.Event()
        listener = await Listener.start(self.pool, NOTIFY_CHANNEL, lambda _payload: wake.set())
        try:
            position = after
            while True:
                wake.clear()
                batch = await self.read_all(after=position, limit=batch_size)
                if batch:
                    position = batch[-1].position
                    yield batch
                    continue
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that races with the wake-up, and the subscriber never stops
                try:
                    async with asyncio.timeout(poll_interval):
                        await wake.wait()
                except TimeoutError:
                    await listener.ensure_listening()
        finally:
            await listener.close()


def _settle_error(requests: Sequence[AppendRequest], exc: BaseException) -> None:
    error: BaseException = exc
    if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == _STREAM_CONFLICT:
        error = _conflict_from(requests[0], exc)
    elif isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, DATABASE_UNAVAILABLE):
        error = EventValidationError(f"the database refused the append: {exc}")
    for request in requests:
        if not request.future.done():
            request.future.set_exception(error)


def _conflict_from(request: AppendRequest, exc: asyncpg.PostgresError) -> ConcurrencyError:
    message = str(exc)
    actual = int(getattr(exc, "detail", "0") or 0)
    for stream_id, expected, _ in request.streams:
        if f"stream {stream_id} " in message and expected is not None:
            return ConcurrencyError(stream_id, expected, actual)
    return ConcurrencyError(request.streams[0][0], request.streams[0][1] or 0, actual)


def _jsonb_encode(value: Any) -> bytes:
    # jsonb's binary wire format is a version byte (1) and the JSON text
    return b"\x01" + orjson.dumps(value)


def _jsonb_decode(data: bytes) -> Any:
    # orjson: replays decode millions of these; it is several times faster than json
    return orjson.loads(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: jsonb as Python objects (binary, so COPY can carry it too)."""
    await conn.set_type_codec(
        "jsonb",
        encoder=_jsonb_encode,
        decoder=_jsonb_decode,
        schema="pg_catalog",
        format="binary",
    )
