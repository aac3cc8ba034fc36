"""`baton audit verify`: recompute the hash chain and name the first position that breaks it.

The chain is recomputed by the same SQL function that built it, in position ranges, so
verifying a large log needs neither much memory nor one long transaction. Each run is kept
(`audit_verifications`, migration 012) so that anyone can see how far, and when, the
chain was last found intact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

_ZERO = bytes(32)
_CHUNK = """
SELECT position, hash,
       baton_event_hash(coalesce(lag(hash) OVER w, $3), position, stream_id, stream_version,
                        type, schema_version, data, metadata, recorded_at) AS expected
  FROM events
 WHERE position >= $1 AND position <= $2
WINDOW w AS (ORDER BY position)
 ORDER BY position
"""


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification."""

    checked: int
    head_position: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every hash matched and no position is missing."""
        return self.broken_at is None

    @property
    def verified_to(self) -> int:
        """The last position whose hash was recomputed and matched."""
        return self.head_position if self.broken_at is None else self.broken_at - 1


async def verify_chain(conn: asyncpg.Connection, *, chunk: int = 50_000) -> ChainReport:
    """Recompute every event's hash from its predecessor; stop at the first mismatch."""
    head = await conn.fetchrow("SELECT position, hash FROM event_head")
    assert head is not None
    head_position: int = head["position"]
    position, last_hash, checked = 0, _ZERO, 0
    while position < head_position:
        # each chunk starts at the last verified row, so lag() sees the hash it chains on
        rows = await conn.fetch(_CHUNK, position, position + chunk, _ZERO)
        fresh = [row for row in rows if row["position"] > position]
        if not fresh:
            break
        for row in fresh:
            if row["position"] != position + 1:
                return ChainReport(checked, head_position, position + 1, "event is missing")
            if bytes(row["hash"]) != bytes(row["expected"]):
                return ChainReport(checked, head_position, row["position"], "hash does not match")
            position, last_hash = row["position"], bytes(row["hash"])
            checked += 1
    if position != head_position:
        return ChainReport(checked, head_position, position + 1, "event is missing")
    if last_hash != bytes(head["hash"]):
        return ChainReport(checked, head_position, head_position, "head hash does not match")
    return ChainReport(checked, head_position)


@dataclass(frozen=True, kw_only=True)
class Verification:
    """A recorded run of the verification: its report, and when it ran."""

    report: ChainReport
    verified_at: datetime


async def record_verification(conn: asyncpg.Connection, report: ChainReport) -> Verification:
    """Keep a run's outcome (the console shows the latest)."""
    verified_at = await conn.fetchval(
        """INSERT INTO audit_verifications
               (ok, checked, head_position, verified_to, broken_at, reason)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING verified_at""",
        report.ok,
        report.checked,
        report.head_position,
        report.verified_to,
        report.broken_at,
        report.reason,
    )
    return Verification(report=report, verified_at=verified_at)


async def verify_and_record(conn: asyncpg.Connection) -> Verification:
    """Verify the chain and keep the outcome: what the API and the CLI run."""
    return await record_verification(conn, await verify_chain(conn))


async def latest_verification(conn: asyncpg.Connection) -> Verification | None:
    """The last recorded run, or None when the chain was never verified."""
    row = await conn.fetchrow(
        """SELECT verified_at, checked, head_position, broken_at, reason
             FROM audit_verifications ORDER BY verified_at DESC, id DESC LIMIT 1"""
    )
    if row is None:
        return None
    report = ChainReport(row["checked"], row["head_position"], row["broken_at"], row["reason"])
    return Verification(report=report, verified_at=row["verified_at"])
