"""A broken hash chain is told once: the verification that finds it records where, and a
channel hears that the log was tampered with or corrupted at that position."""

from __future__ import annotations

import asyncpg

from engine.audit import verify
from engine.store import EventMetadata, EventStore, NewEvent
from tests.notify.conftest import Receiver, Running, request_promotion, until, webhook

META = EventMetadata(actor="tester")


async def _tamper(pool: asyncpg.Pool, position: int) -> None:
    """Edit a stored event as a superuser with the triggers switched off could."""
    async with pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("UPDATE events SET data = '{\"v\": 99}' WHERE position = $1", position)
        await conn.execute("SET session_replication_role = DEFAULT")


async def test_a_broken_chain_is_told_once_with_its_position_to_every_channel_asking(
    store: EventStore, pool: asyncpg.Pool, receiver: Receiver, run_notifier: Running
) -> None:
    # filtered to one app: a broken log is no app's, and reaches it all the same
    await run_notifier([webhook(receiver.url, apps=frozenset({"shop"}))])
    for i in range(4):
        await store.append(f"s{i}", [NewEvent("A", {"v": i})], expected_version=0, metadata=META)
    await _tamper(pool, 3)

    first = await verify(store)
    again = await verify(store)
    assert first.report.broken_at == again.report.broken_at == 3
    await request_promotion(store, "p-1")  # a last message behind it: told in log order

    await until(lambda: len(receiver.taken) == 2)
    told, last = (m.body for m in receiver.taken)
    assert (told["trigger"], last["trigger"]) == ("audit-chain-broken", "promotion-requested")
    assert told["title"].startswith(
        "The event log was tampered with or corrupted: the hash chain breaks at position 3"
        " (hash does not match)"
    )
    assert told["app"] is None and told["link"] == "https://baton.example/audit/3"
    recorded = await store.read_stream("audit")
    assert [(e.type, e.data.get("position")) for e in recorded] == [
        ("Audit.Created", None),
        ("Audit.ChainBroken", 3),
    ]
