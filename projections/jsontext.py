"""SQL that writes values as the API's JSON encoder (orjson) does, for JSON built in Postgres."""

from __future__ import annotations


def iso_utc(column: str) -> str:
    """A timestamptz as orjson writes a UTC datetime: microseconds only when there are some."""
    # one to_char, then drop a zero fraction: half the cost of testing for it first
    return f"""replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US+00:00'),
               '.000000+', '+')"""
