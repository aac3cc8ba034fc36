"""SQL that writes values as the API's JSON encoder (orjson) does, for JSON built in Postgres."""

from __future__ import annotations


def iso_utc(column: str) -> str:
    """A timestamptz as orjson writes a UTC datetime: microseconds only when there are some."""
    return f"""(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
  || CASE WHEN extract(microseconds FROM {column})::bigint % 1000000 <> 0
          THEN to_char({column} AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00')"""
