"""Idempotency keys: remember the first answer to a write request, hand it back on a retry.

Where it sits: beside the event log, for the API's POST requests. A request reserves its
(subject, key) before it runs; the primary key lets exactly one of several concurrent
duplicates win, and the winner holds the key under a fresh `owner` id for a lease. A
request that appends events answers its key in the same transaction as those events
(`baton_append_answered`, migration 008): a request cut after that commit is replayed on
retry, one cut before it left nothing behind. A request that appends nothing answers
afterwards. A reservation whose lease ran out, or whose holder's database session is gone
(its process died), belongs to an attempt that died: a retry takes it over at once, and
the dead attempt, were it alive after all, can no longer answer it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from engine.store.pooling import held


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
    owner: uuid.UUID | None = None  # with NEW: the id this attempt holds the key under
    lease_left: float = 0.0  # with IN_PROGRESS: seconds until the holder's lease runs out


@dataclass(kw_only=True)
class PendingAnswer:
    """The key of the request being served, and how to answer it from what it saves.

    `render` gets the aggregates a save appends for, after their commands ran; the answer
    it returns is committed with their events. `recorded` says it was.
    """

    subject: str
    key: str
    owner: uuid.UUID
    render: Callable[[Sequence[Any]], StoredResponse] | None = None
    recorded: bool = False


@dataclass(frozen=True, kw_only=True)
class KeyAnswer:
    """An answer to commit with an append."""

    subject: str
    key: str
    owner: uuid.UUID
    response: StoredResponse


#: the request in this task that holds an idempotency key (set by the API's middleware)
PENDING_ANSWER: ContextVar[PendingAnswer | None] = ContextVar("baton_pending_answer", default=None)


def answer_for(aggregates: Sequence[Any]) -> KeyAnswer | None:
    """The answer to commit with a save of `aggregates`, when a keyed request renders one."""
    pending = PENDING_ANSWER.get()
    if pending is None or pending.render is None or pending.recorded:
        return None
    return KeyAnswer(
        subject=pending.subject,
        key=pending.key,
        owner=pending.owner,
        response=pending.render(aggregates),
    )


def answered(answer: KeyAnswer | None) -> None:
    """Note that `answer` was committed: the request must not answer its key again."""
    pending = PENDING_ANSWER.get()
    if answer is not None and pending is not None and pending.owner == answer.owner:
        pending.recorded = True


class IdempotencyKeys:
    """The `idempotency_keys` table."""

    def __init__(self, pool: asyncpg.Pool, *, lease: timedelta = timedelta(seconds=30)) -> None:
        self.pool = pool
        #: how long an unanswered reservation stays its holder's: longer than any request runs
        self.lease = lease

    async def claim(
        self, *, subject: str, key: str, method: str, path: str, request_hash: str
    ) -> Reservation:
        """Reserve `key` for `subject`, or report what an earlier use of it left."""
        owner = uuid.uuid4()
        async with held(self.pool) as conn:
            # a new key, or one whose holder's lease ran out (its process died mid-request)
            taken = await conn.fetchval(
                """INSERT INTO idempotency_keys AS k
                          (subject, key, method, path, request_hash, owner, lease_until,
                           owner_pid, owner_started)
                   SELECT $1, $2, $3, $4, $5, $6, now() + $7::interval, a.pid, a.backend_start
                     FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()
                   ON CONFLICT (subject, key) DO UPDATE
                      SET method = EXCLUDED.method, path = EXCLUDED.path,
                          request_hash = EXCLUDED.request_hash, owner = EXCLUDED.owner,
                          lease_until = EXCLUDED.lease_until, owner_pid = EXCLUDED.owner_pid,
                          owner_started = EXCLUDED.owner_started, created_at = now()
                    WHERE k.status IS NULL
                      AND (coalesce(k.lease_until, k.created_at + $7::interval) < now()
                           OR NOT EXISTS (SELECT 1 FROM pg_stat_activity s
                                           WHERE s.pid = k.owner_pid
                                             AND s.backend_start = k.owner_started))
                   RETURNING true""",
                subject,
                key,
                method,
                path,
                request_hash,
                owner,
                self.lease,
            )
            if taken:
                return Reservation(claim=Claim.NEW, owner=owner)
            row = await conn.fetchrow(
                """SELECT method, path, request_hash, status, headers, body,
                          extract(epoch FROM coalesce(lease_until, created_at + $3::interval)
                                             - now()) AS lease_left
                     FROM idempotency_keys WHERE subject = $1 AND key = $2""",
                subject,
                key,
                self.lease,
            )
        if row is None:  # released between the insert and the select: the caller retries
            return Reservation(claim=Claim.IN_PROGRESS)
        first_path = f"{row['method']} {row['path']}"
        if (row["method"], row["path"], row["request_hash"]) != (method, path, request_hash):
            return Reservation(claim=Claim.MISMATCH, first_path=first_path)
        if row["status"] is None:
            left = max(0.0, float(row["lease_left"]))
            return Reservation(claim=Claim.IN_PROGRESS, first_path=first_path, lease_left=left)
        headers = row["headers"]
        if isinstance(headers, str):
            headers = json.loads(headers)
        response = StoredResponse(status=row["status"], body=row["body"] or "", headers=headers)
        return Reservation(claim=Claim.REPLAY, response=response, first_path=first_path)

    async def complete(
        self, *, subject: str, key: str, owner: uuid.UUID, response: StoredResponse
    ) -> None:
        """Record the answer to a request that appended nothing and still holds `key`."""
        async with held(self.pool) as conn:
            await conn.execute(
                """UPDATE idempotency_keys
                      SET status = $4, headers = $5::text::jsonb, body = $6, completed_at = now()
                    WHERE subject = $1 AND key = $2 AND owner = $3 AND status IS NULL""",
                subject,
                key,
                owner,
                response.status,
                json.dumps(response.headers),
                response.body,
            )

    async def release(self, *, subject: str, key: str, owner: uuid.UUID) -> None:
        """Forget an unanswered key (the request failed before writing anything it knows of)."""
        async with held(self.pool) as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys"
                " WHERE subject = $1 AND key = $2 AND owner = $3 AND status IS NULL",
                subject,
                key,
                owner,
            )
