"""A poison event is parked after N attempts, shown to an admin, and retried by one;
the promoter, restarted, reads on from its checkpoint rather than from the log's start."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine.promoter import SUBSCRIPTION, Promoter
from engine.store import RecordedEvent
from engine.store.subscriptions import checkpoint
from engine.subscriptions import Subscriptions
from engine.supervisor import Supervisor
from tests.api.conftest import Api, problem
from tests.subscriptions.conftest import append


async def eventually(check: Callable[[], object], *, within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # type: ignore[misc]
            await asyncio.sleep(0.05)


async def test_a_poison_event_is_parked_shown_and_delivered_once_an_admin_retries_it(
    api: Api,
) -> None:
    store = api.promotions.repository.store
    head = await append(store, 10)
    poison = head - 5
    seen: list[int] = []
    refuse = True

    async def handler(event: RecordedEvent) -> None:
        if event.position == poison and refuse:
            raise ValueError(f"cannot take {event.position}")
        seen.append(event.position)

    subscriptions = Subscriptions(store, poll_interval=0.1, checkpoint_interval=0.1)
    supervisor = Supervisor()
    supervisor.start("poison", lambda: subscriptions.run("poison", handler, max_attempts=3))
    try:

        async def went_on() -> bool:
            return head in seen

        await eventually(went_on)
        assert poison not in seen
        answer = await api.get("/admin/subscriptions", as_="admin")
        assert answer.status == 200
        (status,) = (await answer.json())["subscriptions"]
        assert status["name"] == "poison" and status["holder"] is not None
        (parked,) = status["parked"]
        assert parked["position"] == poison and parked["attempts"] == 3
        assert parked["type"] == "Test.Happened" and "cannot take" in parked["error"]
        assert "cannot take" in status["last_error"]

        await problem(await api.get("/admin/subscriptions", as_="viewer"), 403)
        retry = "/admin/subscriptions/poison/parked/{}/retry"
        await problem(await api.post(retry.format(poison + 1), as_="admin"), 404, "not-found")
        await problem(await api.post("/admin/subscriptions/nope/parked/1/retry", as_="admin"), 404)

        refuse = False
        answer = await api.post(retry.format(poison), as_="admin")
        assert answer.status == 202, await answer.text()
        assert (await answer.json())["parked"] == []

        async def delivered() -> bool:
            return poison in seen

        await eventually(delivered)
        assert seen.count(poison) == 1
        types = [e.type for e in await store.read_stream("subscription:poison")]
        assert types == [
            "Subscription.Created",
            "Subscription.EventParked",
            "Subscription.ParkedEventRetried",
        ]
    finally:
        await supervisor.stop()


class Recording(Promoter):
    """The promoter, noting each event the log hands it once it has handled it."""

    seen: list[int]

    async def on_event(self, event: RecordedEvent) -> None:
        # noted after: a stop while an event is handled rightly checkpoints the one before
        await super().on_event(event)
        self.seen.append(event.position)


async def test_a_restarted_promoter_reads_on_from_its_checkpoint_not_from_the_start(
    api: Api,
) -> None:
    store = api.promotions.repository.store
    subscriptions = Subscriptions(store, poll_interval=0.1, checkpoint_interval=0.1)

    async def run_until(head: int) -> list[int]:
        promoter = Recording(api.promotions)
        promoter.seen = []
        supervisor = Supervisor()
        supervisor.start(SUBSCRIPTION, lambda: promoter.run(subscriptions))

        async def caught_up() -> bool:
            return head in promoter.seen

        try:
            await eventually(caught_up)
        finally:
            await supervisor.stop()  # a clean stop checkpoints
        return promoter.seen

    head = await store.head_position()
    first = await run_until(head)
    assert first[0] == 1  # never run on this database: from the origin
    assert await checkpoint(store.pool, SUBSCRIPTION) == head

    later = await append(store, 3)
    second = await run_until(later)
    assert second == [head + 1, head + 2, head + 3]
