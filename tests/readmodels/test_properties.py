"""Property: whatever valid histories the domain writes, however concurrently, and however
the live runner slices them into batches, three copies of a target's state agree on every
field the read models show, of every target and every promotion: the aggregate read back
from the store, the live (incremental) read models, and a rebuild from the log (the
set-wise SQL).

Each example plays a hundred histories at once, each its own app, in one database: a
database per history would cost more than the histories themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from dataclasses import replace
from random import Random
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from storyline import Story

from engine.codec import to_domain_event
from engine.domain.enums import Health
from engine.domain.errors import DomainError
from engine.domain.ids import target_stream
from engine.domain.promotion import Override, Promotion
from engine.domain.target import Target
from engine.domain.target_state import TARGET_SHOWN
from engine.repository import default_registry
from engine.store import EventMetadata, EventStore
from engine.store.database import create_pool, with_database
from projections.catalog import all_projections
from projections.rebuild import verify
from projections.runner import ProjectionRunner

pytestmark = pytest.mark.store

ENVS = ("dev", "staging", "prod")
USERS = ("alice", "bob", "carol")
HISTORIES = 100
EXAMPLES = 5
_databases = itertools.count()

Op = tuple[Any, ...]
# how often each operation comes up: promotions and settling most, so that histories
# reach prod, verify, fail, and roll back
WEIGHTS = {
    "release": 3,
    "promote": 6,
    "override": 1,
    "approve": 3,
    "reject": 1,
    "cancel": 1,
    "settle": 6,
    "rollback": 2,
    "drift": 2,
    "project": 2,
}


def history(rng: Random) -> list[Op]:
    """A history of operations on one app (many refused: that is part of the property)."""
    ops: list[Op] = [("release",)]
    for kind in rng.choices(list(WEIGHTS), list(WEIGHTS.values()), k=rng.randint(5, 40)):
        env = rng.choice(ENVS)
        user = rng.choice(USERS)
        match kind:
            case "promote" | "override":
                ops.append((kind, env, rng.randint(1, 4), user))
            case "approve" | "reject" | "cancel":
                ops.append((kind, user))
            case "settle":
                health = rng.choices(list(Health)[:3], (6, 1, 2))[0]
                ops.append((kind, env, health))
            case "rollback":
                ops.append((kind, env))
            case "drift":
                ops.append((kind, env, rng.random() < 0.5))
            case "project":
                ops.append((kind, rng.randint(1, 9)))
            case _:
                ops.append((kind,))
    return ops


async def promote(story: Story, app: str, op: Op, releases: int) -> None:
    kind, env, n, user = op
    latest = (await story.service.app(app)).latest_release
    await story.service.request(
        app,
        env,
        release=latest if n > releases else f"{n:x}" * 40,
        metadata=EventMetadata(actor=user),
        override=Override(by=user, reason="hotfix") if kind == "override" else None,
    )


async def decide(story: Story, app: str, verdict: str, user: str) -> None:
    target = await story.service.target(app, "prod")
    if target is None or target.in_flight is None:
        return
    meta, pid = EventMetadata(actor=user), target.in_flight.id
    if verdict == "approve":
        await story.service.approve(app, "prod", pid, metadata=meta)
    elif verdict == "reject":
        await story.service.reject(app, "prod", pid, metadata=meta, reason="no")
    else:
        await story.service.cancel(app, "prod", pid, metadata=meta, reason="not now")


async def step(story: Story, runner: ProjectionRunner, app: str, op: Op, releases: int) -> None:
    """One operation of a history; a refused command writes nothing."""
    match op:
        case ("release",):
            await story.release(releases, app=app)
        case ("promote" | "override", _, _, _):
            await promote(story, app, op, releases)
        case ("approve" | "reject" | "cancel" as verdict, user):
            await decide(story, app, verdict, user)
        case ("settle", env, health) if await story.service.target(app, env) is not None:
            await story.settle(env, health, app=app)
        case ("drift", env, fail_sync) if await story.service.target(app, env) is not None:
            await story.drift(env, fail_sync=fail_sync, app=app)
        case ("rollback", env):
            await story.service.rollback(app, env, metadata=EventMetadata(actor="ops"))
        case ("project", n):
            for projection in runner.projections:
                await runner.step(projection, limit=n)


async def play(story: Story, runner: ProjectionRunner, app: str, ops: list[Op]) -> None:
    await story.app(app)
    releases = 0
    for op in ops:
        if op == ("release",):
            releases += 1
        # refused commands write nothing; that is part of the property
        with contextlib.suppress(DomainError, LookupError):
            await step(story, runner, app, op, releases)


async def replay(store: EventStore, stream_id: str) -> tuple[Target, dict[str, Promotion]]:
    """The target read back from its stream, and each of its promotions as last it was."""
    registry = default_registry()
    target: Any = None
    promotions: dict[str, Promotion] = {}
    for recorded in await store.read_stream(stream_id):
        target = to_domain_event(registry, recorded).mutate(target)
        if (p := target.state.promotion) is not None:
            promotions[p.id] = p
    return target, promotions


async def check_aggregates_equal_rows(
    pool: asyncpg.Pool, store: EventStore, apps: list[str]
) -> None:
    """Every shown field of every target and of every promotion, as the aggregate read back
    from the store has it, equals the live rows."""
    targets = {(r["app"], r["environment"]): r for r in await pool.fetch("SELECT * FROM targets")}
    rows = {r["id"]: r for r in await pool.fetch("SELECT * FROM promotions")}
    promotions: dict[str, Promotion] = {}
    for app, env in itertools.product(apps, ENVS):
        target, promoted = await replay(store, target_stream(app, env))
        if target is None:
            assert (app, env) not in targets, "a target row without its aggregate"
            continue
        promotions |= promoted
        row = targets[(app, env)]
        state = target.state
        assert {k: row[k] for k in TARGET_SHOWN} == state.shown(), (app, env)
        p = state.promotion
        assert (row["promotion_id"], row["promotion_release"], row["promotion_phase"]) == (
            (p.id, p.release, p.phase.value) if p else (None, None, None)
        ), (app, env)
    assert rows.keys() == promotions.keys()
    for pid, p in promotions.items():
        # rows do not show what the promotion replaced
        assert Promotion.from_shown(rows[pid]) == replace(p, previous_release=None), pid


async def check(admin_url: str, template: str, histories: list[list[Op]], batch_size: int) -> None:
    name = f"baton_prop_{os.getpid()}_{next(_databases)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        pool = await create_pool(with_database(admin_url, name), min_size=1, max_size=8)
        store = EventStore(pool)
        try:
            runner = ProjectionRunner(pool, batch_size=batch_size)
            await runner.ensure()
            story = Story(store)
            apps = [f"app{i}" for i in range(len(histories))]
            await asyncio.gather(
                *(play(story, runner, app, ops) for app, ops in zip(apps, histories, strict=True))
            )
            await runner.catch_up()
            await check_aggregates_equal_rows(pool, store, apps)
            report = await verify(pool, all_projections())
            assert report.ok, report.differences
        finally:
            await store.close()
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # a smaller seed is not a simpler history: shrinking would only replay unrelated ones
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Hypothesis draws a seed per example, not the operations: a hundred histories of up to
# forty operations overflow what it draws per example, and it would draw short ones. The
# histories' own `project` steps slice the log finely (1 to 9 events); the runner's batch
# size is for the rest (a batch of one over the whole log would be most of the run time).
@given(seed=st.integers(0, 2**32 - 1), batch_size=st.integers(10, 250))
def test_aggregates_live_projections_and_a_rebuild_agree_for_any_histories(
    pg_admin_url: str, template_database: str, seed: int, batch_size: int
) -> None:
    rng = Random(seed)
    histories = [history(rng) for _ in range(HISTORIES)]
    asyncio.run(check(pg_admin_url, template_database, histories, batch_size))
