"""One call of `baton_append`: a group of append requests as the function's arrays.

Where it sits: under `EventStore._flush`. It sends a group in one round trip, hands each
request its results (or its stream conflict), and — when the connection died with the call
in flight — reads the log to find whether the call committed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from engine.store.errors import ConcurrencyError
from engine.store.group_commit import AppendRequest
from engine.store.types import AppendResult

_APPEND = (
    "SELECT batch, first_position, last_position, last_version, actual_version, recorded_at"
    " FROM baton_append($1::text[], $2::bigint[], $3, $4::int[], $5::text[], $6::int[],"
    " $7::text[]::jsonb[], $8::text[]::jsonb[])"
)
_APPEND_ANSWERED = (
    "SELECT batch, first_position, last_position, last_version, actual_version, recorded_at"
    " FROM baton_append_answered($1::text[], $2::bigint[], $3::int[], $4::text[], $5::int[],"
    " $6::text[]::jsonb[], $7::text[]::jsonb[], $8, $9, $10, $11, $12::text::jsonb, $13)"
)
#: an append that has not answered by then is given up as of unknown outcome (and resolved)
APPEND_TIMEOUT_S = 10.0

Batch = tuple[str, int | None, Sequence[tuple[str, int, str, str]]]


@dataclass
class AppendCall:
    """A group of requests laid out as `baton_append`'s arguments."""

    requests: Sequence[AppendRequest]
    batches: list[Batch] = field(default_factory=list)
    owners: list[tuple[AppendRequest, int]] = field(default_factory=list)

    @classmethod
    def of(cls, requests: Sequence[AppendRequest]) -> AppendCall:
        """Number every request's stream batches in call order (1-based, as the function)."""
        call = cls(requests)
        for request in requests:
            for batch in request.streams:
                call.batches.append(batch)
                call.owners.append((request, len(call.batches)))
        return call

    @property
    def streams(self) -> list[str]:
        """The streams the call appends to."""
        return [stream for stream, _, _ in self.batches]

    async def run(self, conn: asyncpg.Connection) -> list[dict[str, Any]]:
        """Send the call; one row per batch."""
        e_batch: list[int] = []
        columns: tuple[list[Any], list[Any], list[Any], list[Any]] = ([], [], [], [])
        for number, (_, _, events) in enumerate(self.batches, start=1):
            for event in events:
                e_batch.append(number)
                for column, value in zip(columns, event, strict=True):
                    column.append(value)
        expected = [version for _, version, _ in self.batches]
        answer = self.requests[0].answer if len(self.requests) == 1 else None
        if answer is not None:
            response = answer.response
            rows = await conn.fetch(
                _APPEND_ANSWERED, self.streams, expected, e_batch, *columns,
                answer.subject, answer.key, answer.owner, response.status,
                json.dumps(response.headers), response.body,
                timeout=APPEND_TIMEOUT_S,
            )  # fmt: skip
        else:
            atomic = len(self.requests) == 1 and self.requests[0].atomic
            rows = await conn.fetch(
                _APPEND, self.streams, expected, atomic, e_batch, *columns,
                timeout=APPEND_TIMEOUT_S,
            )  # fmt: skip
        return [dict(row) for row in rows]

    async def find_committed(self, conn: asyncpg.Connection) -> list[dict[str, Any]] | None:
        """The call's rows as committed, read back from the log; None if it did not commit.

        Every batch must name its expected version. A batch whose events stand right after
        it proves the transaction committed; the batches that do not were conflicts in it.
        """
        rows: list[dict[str, Any]] = []
        committed = False
        for number, (stream, expected, events) in enumerate(self.batches, start=1):
            assert expected is not None
            stored = await conn.fetch(
                "SELECT position, type, data, metadata, recorded_at FROM events"
                " WHERE stream_id = $1 AND stream_version > $2"
                " ORDER BY stream_version LIMIT $3",
                stream,
                expected,
                len(events),
            )
            if _same(stored, events):
                committed = True
                rows.append({
                    "batch": number, "first_position": stored[0]["position"],
                    "last_position": stored[-1]["position"],
                    "last_version": expected + len(events), "actual_version": expected,
                    "recorded_at": stored[0]["recorded_at"],
                })  # fmt: skip
            else:
                version = await conn.fetchval(
                    "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1",
                    stream,
                )
                rows.append({"batch": number, "first_position": None, "actual_version": version})
        return rows if committed else None

    def settle(self, rows: list[dict[str, Any]]) -> None:
        """Hand each request its results, or its stream's conflict."""
        by_batch = {row["batch"]: row for row in rows}
        results: dict[int, list[AppendResult]] = {}
        conflicts: dict[int, ConcurrencyError] = {}
        for request, number in self.owners:
            row = by_batch[number]
            stream_id, expected, _ = self.batches[number - 1]
            if row["first_position"] is None:
                assert expected is not None
                actual = row["actual_version"]
                conflicts[id(request)] = ConcurrencyError(stream_id, expected, actual)
                continue
            results.setdefault(id(request), []).append(
                AppendResult(
                    stream_id=stream_id,
                    first_position=row["first_position"],
                    last_position=row["last_position"],
                    last_version=row["last_version"],
                    recorded_at=row["recorded_at"],
                )
            )
        for request in self.requests:
            if request.future.done():
                continue
            if id(request) in conflicts:
                request.future.set_exception(conflicts[id(request)])
            else:
                request.future.set_result(results[id(request)])


def _same(stored: Sequence[asyncpg.Record], events: Sequence[tuple[str, int, str, str]]) -> bool:
    """True when the stored events are these very events (type, data and metadata)."""
    if len(stored) != len(events):
        return False
    return all(
        row["type"] == type_
        and row["data"] == orjson.loads(data)
        and row["metadata"] == orjson.loads(metadata)
        for row, (type_, _, data, metadata) in zip(stored, events, strict=True)
    )
