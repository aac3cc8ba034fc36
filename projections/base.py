"""What a projection is: a name, a version, its tables (DDL in `sql/`), and `apply`.

Projections read events as raw rows (asyncpg records with `position`, `stream_id`,
`type`, `schema_version`, `data`, `metadata`, `recorded_at`) rather than domain objects:
a rebuild goes through millions of them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

import asyncpg

from engine.domain.ids import parse_target_stream

EventRow: TypeAlias = asyncpg.Record
_SQL = Path(__file__).parent / "sql"
_INDEX_MARKER = "-- indexes"
#: client-side limit for statements that may go through the whole log (a rebuild takes
#: minutes on a big log; the pool's default command timeout is for requests)
WHOLE_LOG_TIMEOUT = 6 * 3600.0


class Projection(ABC):
    """A read model maintained from the event log."""

    #: checkpoint name; also names the DDL file `sql/<name>.sql`
    name: ClassVar[str]
    #: bump when the rows it would build change; start-up then rebuilds it
    version: ClassVar[int]
    #: tables it owns, in the order they are created
    tables: ClassVar[tuple[str, ...]]

    def table_ddl(self) -> str:
        """CREATE TABLE statements (run before a bulk load)."""
        return _ddl(self.name)[0]

    def index_ddl(self) -> str:
        """Keys and indexes (run after a bulk load: faster than indexing per row)."""
        return _ddl(self.name)[1]


class RowProjection(Projection):
    """A projection computed in Python from the event rows of each batch."""

    #: SQL condition on `events` selecting the rows it needs (None: every event)
    rows_wanted: ClassVar[str | None] = None
    #: the select list it reads rows with
    columns: ClassVar[str] = (
        "position, stream_id, type, schema_version, data, metadata, recorded_at"
    )

    @abstractmethod
    async def apply(self, conn: asyncpg.Connection, events: Sequence[EventRow]) -> None:
        """Apply a batch of events, in order, inside the caller's transaction."""

    async def load(self, conn: asyncpg.Connection, upto: int) -> int:
        """Fill the empty tables from the events up to `upto` set-wise, for a rebuild.

        Returns the position loaded up to; 0 (the default) means it has no such load and
        is rebuilt batch by batch through `apply`.
        """
        return 0


class RangeProjection(Projection):
    """A projection computed inside Postgres from a range of positions."""

    @abstractmethod
    async def apply_range(self, conn: asyncpg.Connection, after: int, upto: int) -> None:
        """Apply the events at positions (after, upto], inside the caller's transaction."""


@cache
def _ddl(name: str) -> tuple[str, str]:
    text = (_SQL / f"{name}.sql").read_text(encoding="utf-8")
    tables, _, indexes = text.partition(_INDEX_MARKER)
    return tables, indexes


#: (app, environment) of a `target:<app>:<env>` stream, else None
target_of = parse_target_stream


_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-")


def trace_id(metadata: dict[str, Any]) -> str | None:
    """The trace id carried in an event's traceparent, if any."""
    match = _TRACEPARENT.match(metadata.get("traceparent") or "")
    return match.group(1) if match else None


def short_type(event_type: str) -> str:
    """`Target.PromotionRequested` → `PromotionRequested`."""
    return event_type.rpartition(".")[2]
