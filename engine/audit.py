"""Verifying the hash chain, as the API, the console and `baton audit verify` run it.

Where it sits: above the store's verification (``engine.store.audit``: recompute the
chain, keep the run in ``audit_verifications``) and the Audit aggregate
(``engine.domain.audit``). Every verification passes through :func:`verify`; a broken
chain is also recorded in the log (``Audit.ChainBroken`` on the stream ``audit``, once per
broken position), so the notifier tells of it (``audit-chain-broken``). The event is
appended after the head like any other: the chain it extends is the one stored, so the
break stays where it was found.
"""

from __future__ import annotations

import logging
from datetime import datetime

from engine.backoff import retry
from engine.domain.audit import Audit
from engine.domain.ids import audit_stream
from engine.repository import Repository
from engine.store import ConcurrencyError, EventMetadata, EventStore
from engine.store.audit import Verification, verify_and_record

log = logging.getLogger(__name__)
ACTOR = "audit"


async def verify(store: EventStore, *, actor: str = ACTOR) -> Verification:
    """Verify the chain and keep the outcome; a broken chain is recorded in the log too."""
    async with store.pool.acquire() as conn:
        verification = await verify_and_record(conn)
    report = verification.report
    if report.broken_at is not None:
        log.error("hash chain broken at position %d: %s", report.broken_at, report.reason)
        await record_broken(
            Repository(store),
            position=report.broken_at,
            reason=report.reason or "",
            at=verification.verified_at,
            actor=actor,
        )
    return verification


async def record_broken(
    repository: Repository, *, position: int, reason: str, at: datetime, actor: str
) -> bool:
    """Record the chain broken at `position`; False when it was recorded before."""

    async def once() -> bool:
        audit = await repository.find(Audit, audit_stream()) or Audit()
        if not audit.found_broken(position=position, reason=reason, at=at):
            return False
        await repository.save(audit, metadata=EventMetadata(actor=actor))
        return True

    return await retry(once, attempts=5, on=ConcurrencyError)
