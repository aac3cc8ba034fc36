"""Batch-scoped row caches: load the rows a batch touches, change them in memory, write back.

Written back with COPY into a temporary table and one INSERT ... ON CONFLICT, so a batch
costs a handful of round trips whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

import asyncpg

Key = tuple[Any, ...]
Row = dict[str, Any]
# up to this many rows a prepared upsert beats COPY through a temporary table
_FEW = 32


class KeyedRows:
    """The rows of one table that a batch reads and writes, by primary key."""

    def __init__(self, table: str, keys: Sequence[str], columns: Sequence[str]) -> None:
        self.table = table
        self.keys = tuple(keys)
        self.columns = tuple(columns)
        self.rows: dict[Key, Row] = {}
        self.dirty: set[Key] = set()
        self._loaded: set[Key] = set()

    async def load(self, conn: asyncpg.Connection, keys: Iterable[Key]) -> None:
        """Fetch the rows for `keys` that are not in memory yet."""
        wanted = {k for k in keys if k not in self._loaded}
        if not wanted:
            return
        self._loaded |= wanted
        columns = list(zip(*wanted, strict=True))
        key_list = ", ".join(self.keys)
        params = ", ".join(f"${i + 1}::text[]" for i in range(len(self.keys)))
        records = await conn.fetch(
            f"SELECT * FROM {self.table} WHERE ({key_list}) IN (SELECT * FROM unnest({params}))",
            *[[str(v) for v in column] for column in columns],
        )
        for record in records:
            row = dict(record)
            self.rows[tuple(row[k] for k in self.keys)] = row

    def get(self, key: Key) -> Row | None:
        """The row for `key`, if it exists (loaded or created in this batch)."""
        return self.rows.get(key)

    def put(self, row: Row) -> Row:
        """Insert or replace a row; returns it."""
        key = tuple(row[k] for k in self.keys)
        self.rows[key] = row
        self.dirty.add(key)
        return row

    def touch(self, key: Key) -> Row:
        """The row for `key`, marked to be written back (it must exist)."""
        self.dirty.add(key)
        return self.rows[key]

    async def flush(self, conn: asyncpg.Connection) -> None:
        """Write the changed rows back: a few rows by a prepared upsert, many by COPY."""
        if not self.dirty:
            return
        row_values = itemgetter(*self.columns)
        records = [row_values(self.rows[k]) for k in self.dirty]
        self.dirty.clear()
        column_list = ", ".join(self.columns)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns if c not in self.keys)
        conflict = f"ON CONFLICT ({', '.join(self.keys)}) DO UPDATE SET {updates}"
        if len(records) <= _FEW:
            values = ", ".join(f"${i + 1}" for i in range(len(self.columns)))
            await conn.executemany(
                f"INSERT INTO {self.table} ({column_list}) VALUES ({values}) {conflict}", records
            )
            return
        tmp = f"baton_tmp_{self.table}"
        await conn.execute(f"CREATE TEMP TABLE {tmp} (LIKE {self.table}) ON COMMIT DROP")
        await conn.copy_records_to_table(
            tmp, records=records, columns=self.columns, schema_name="pg_temp"
        )
        await conn.execute(
            f"INSERT INTO {self.table} ({column_list}) "
            f"SELECT {column_list} FROM pg_temp.{tmp} {conflict}; DROP TABLE pg_temp.{tmp}"
        )


async def copy_rows(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Append rows to a table with COPY."""
    if rows:
        await conn.copy_records_to_table(table, records=rows, columns=columns)
