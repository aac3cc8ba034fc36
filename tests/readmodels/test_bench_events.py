"""The benchmark's generated log is a log the domain and the projections can read."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

import asyncpg
import pytest

from bench._events import Event, Generator, load
from engine.codec import to_domain_event
from engine.domain.app import App
from engine.domain.target import Target
from engine.repository import Repository, default_registry
from engine.store import EventStore
from projections import timetravel
from projections.catalog import all_projections
from projections.history import EPOCH_BITS
from projections.rebuild import verify
from projections.runner import ProjectionRunner

pytestmark = pytest.mark.store


async def test_generated_events_load_into_aggregates_and_projections(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    async with pool.acquire() as conn:
        count = await load(conn, Generator(apps=5).events(600), group=97)
    assert count >= 600
    repository = Repository(store)
    app = await repository.get(App, "app:app-0001")
    assert app.releases
    target = await repository.get(Target, "target:app-0001:dev")
    assert target.verified, "releases were verified in dev"
    runner = ProjectionRunner(pool, batch_size=100)
    await runner.ensure()
    await runner.catch_up()
    assert (await verify(pool, all_projections())).ok


async def test_as_of_is_right_on_both_sides_of_every_epoch_boundary(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    # half the apps rest for two epochs, so their periods span three
    generator = Generator(apps=60)
    busy, resting = generator.apps[:30], generator.apps[30:]

    def releases(apps: list[str], total: int) -> Iterator[Event]:
        for _ in range(total):
            yield from generator.release(generator.random.choice(apps))

    async with pool.acquire() as conn:
        count = await load(
            conn,
            chain(
                generator.start(),
                releases(generator.apps, 300),
                releases(busy, 3400),
                releases(resting, 300),
            ),
        )
    runner = ProjectionRunner(pool, batch_size=5_000)
    await runner.ensure()
    await runner.catch_up()
    epoch = 1 << EPOCH_BITS
    cuts = sorted(
        {p for b in range(epoch, count, epoch) for p in (b - 1, b, b + 1)}
        | set(range(1, count + 1, 997))
    )
    async with pool.acquire() as conn:
        longest = await conn.fetchval("SELECT max(to_position - from_position) FROM target_history")
        assert longest > 2 * epoch, "the log has a period spanning three epochs"
        got = {cut: await timetravel.state_as_of(conn, position=cut) for cut in cuts}
    registry = default_registry()
    targets: dict[str, Any] = {}
    position = 0
    for cut in cuts:
        for recorded in await store.read_all(after=position, limit=cut - position):
            if recorded.stream_id.startswith("target:"):
                event = to_domain_event(registry, recorded)
                targets[recorded.stream_id] = event.mutate(targets.get(recorded.stream_id))
        position = cut
        expected = {
            (t.app, t.environment): (t.desired_release, t.applied_release)
            for t in targets.values()
            if t.desired_release or t.applied_release
        }
        assert {
            (r["app"], r["environment"]): (r["desired_release"], r["applied_release"])
            for r in got[cut]
        } == expected, f"as of position {cut}"
    # filed live, batch by batch, as a rebuild files them
    assert (await verify(pool, all_projections())).ok
