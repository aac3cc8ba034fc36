"""Idempotency keys: remember the first answer to a write request, hand it back on a retry.

Where it sits: beside the event log, for the API's POST requests. A request reserves its
(subject, key) before it runs; the primary key lets exactly one of several concurrent
duplicates win. The winner stores its answer when done; the others either replay that
answer or, while it is still running, hear that it is in progress. A reservation that
was never answered (its process died mid-request) is given up after `stale_after`, so a
key cannot stay blocked forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

import asyncpg


class Claim(StrEnum):
    """What reserving a key found."""

    NEW = "new"  # the caller owns the key and must complete or release it
    REPLAY = "replay"  # the key was answered before: replay that answer
    IN_PROGRESS = "in_progress"  # another request with this key is still running
    MISMATCH = "mismatch"  # the key was used for a different request

    @property
    def is_new(self) -> bool:
        """True when the caller should go ahead and run the request."""
        return self is Claim.NEW


@dataclass(frozen=True, kw_only=True)
class StoredResponse:
    """A recorded answer."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Reservation:
    """The outcome of `IdempotencyKeys.claim`."""

    claim: Claim
    response: StoredResponse | None = None
    first_path: str | None = None


class IdempotencyKeys:
    """The `idempotency_keys` table."""

    def __init__(
        self, pool: asyncpg.Pool, *, stale_after: timedelta = timedelta(minutes=5)
    ) -> None:
        self.pool = pool
        self.stale_after = stale_after

    async def claim(
        self, *, subject: str, key: str, method: str, path: str, request_hash: str
    ) -> Reservation:
        """Reserve `key` for `subject`, or report what an earlier use of it left."""
        async with self.pool.acquire() as conn:
            inserted = await conn.fetchval(
                """INSERT INTO idempotency_keys (subject, key, method, path, request_hash)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (subject, key) DO NOTHING RETURNING true""",
                subject,
                key,
                method,
                path,
                request_hash,
            )
            if not inserted:
                # an unanswered reservation this old belongs to a request that died
                inserted = await conn.fetchval(
                    """UPDATE idempotency_keys
                          SET method = $3, path = $4, request_hash = $5, created_at = now()
                        WHERE subject = $1 AND key = $2 AND status IS NULL
                          AND created_at < now() - $6::interval
                    RETURNING true""",
                    subject,
                    key,
                    method,
                    path,
                    request_hash,
                    self.stale_after,
                )
            if inserted:
                return Reservation(claim=Claim.NEW)
            row = await conn.fetchrow(
                """SELECT method, path, request_hash, status, headers, body
                     FROM idempotency_keys WHERE subject = $1 AND key = $2""",
                subject,
                key,
            )
        if row is None:  # released between the insert and the select: the caller retries
            return Reservation(claim=Claim.IN_PROGRESS)
        first_path = f"{row['method']} {row['path']}"
        if (row["method"], row["path"], row["request_hash"]) != (method, path, request_hash):
            return Reservation(claim=Claim.MISMATCH, first_path=first_path)
        if row["status"] is None:
            return Reservation(claim=Claim.IN_PROGRESS, first_path=first_path)
        headers = row["headers"]
        if isinstance(headers, str):
            headers = json.loads(headers)
        response = StoredResponse(status=row["status"], body=row["body"] or "", headers=headers)
        return Reservation(claim=Claim.REPLAY, response=response, first_path=first_path)

    async def complete(self, *, subject: str, key: str, response: StoredResponse) -> None:
        """Record the answer to the request that owns `key`."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                """UPDATE idempotency_keys
                      SET status = $3, headers = $4::text::jsonb, body = $5, completed_at = now()
                    WHERE subject = $1 AND key = $2 AND status IS NULL""",
                subject,
                key,
                response.status,
                json.dumps(response.headers),
                response.body,
            )

    async def release(self, *, subject: str, key: str) -> None:
        """Forget an unanswered key (the request failed before writing anything it knows of)."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE subject = $1 AND key = $2 AND status IS NULL",
                subject,
                key,
            )
