"""Property: whatever valid history the domain writes, and however the live runner slices
it into batches, the live read models equal a rebuild from the log."""

from __future__ import annotations

import asyncio
import itertools
import os

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storyline import Story

from engine.domain.enums import Health
from engine.domain.errors import DomainError
from engine.store import EventMetadata, EventStore
from engine.store.database import create_pool, with_database
from projections.catalog import all_projections
from projections.rebuild import verify
from projections.runner import ProjectionRunner

pytestmark = pytest.mark.store

ENVS = ("dev", "staging", "prod")
USERS = ("alice", "bob", "carol")
_databases = itertools.count()

operation = st.one_of(
    st.tuples(st.just("release")),
    st.tuples(st.just("promote"), st.sampled_from(ENVS), st.integers(1, 4), st.sampled_from(USERS)),
    st.tuples(st.just("approve"), st.sampled_from(USERS)),
    st.tuples(st.just("reject"), st.sampled_from(USERS)),
    st.tuples(
        st.just("settle"),
        st.sampled_from(ENVS),
        st.sampled_from([Health.HEALTHY, Health.DEGRADED, Health.PROGRESSING]),
    ),
    st.tuples(st.just("rollback"), st.sampled_from(ENVS)),
    st.tuples(st.just("drift"), st.sampled_from(ENVS), st.booleans()),
    st.tuples(st.just("project"), st.integers(1, 9)),
)


async def play(story: Story, runner: ProjectionRunner, ops: list[tuple[object, ...]]) -> None:
    await story.app()
    releases = 0
    for op in ops:
        try:
            match op:
                case ("release",):
                    releases += 1
                    await story.release(releases)
                case ("promote", env, n, user) if releases:
                    await story.service.request(
                        "web",
                        str(env),
                        release=(await story.service.app("web")).latest_release
                        if int(n) > releases
                        else f"{int(n):x}" * 40,
                        metadata=EventMetadata(actor=str(user)),
                    )
                case ("approve", user) | ("reject", user):
                    target = await story.service.target("web", "prod")
                    if target is not None and target.in_flight is not None:
                        meta = EventMetadata(actor=str(user))
                        if op[0] == "approve":
                            await story.service.approve(
                                "web", "prod", target.in_flight.id, metadata=meta
                            )
                        else:
                            await story.service.reject(
                                "web", "prod", target.in_flight.id, metadata=meta, reason="no"
                            )
                case ("settle", env, health):
                    if await story.service.target("web", str(env)) is not None:
                        await story.settle(str(env), Health(str(health)))
                case ("drift", env, fail_sync):
                    if await story.service.target("web", str(env)) is not None:
                        await story.drift(str(env), fail_sync=bool(fail_sync))
                case ("rollback", env):
                    await story.service.rollback(
                        "web", str(env), metadata=EventMetadata(actor="ops")
                    )
                case ("project", n):
                    for projection in runner.projections:
                        await runner.step(projection, limit=int(n))
        except (DomainError, LookupError):
            pass  # refused commands write nothing; that is part of the property


async def check(admin_url: str, template: str, ops: list[tuple[object, ...]]) -> None:
    name = f"baton_prop_{os.getpid()}_{next(_databases)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        pool = await create_pool(with_database(admin_url, name), min_size=1, max_size=4)
        store = EventStore(pool)
        try:
            runner = ProjectionRunner(pool)
            await runner.ensure()
            await play(Story(store), runner, ops)
            await runner.catch_up()
            report = await verify(pool, all_projections())
            assert report.ok, report.differences
        finally:
            await store.close()
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=30))
def test_live_projections_equal_a_rebuild_for_any_history(
    pg_admin_url: str, template_database: str, ops: list[tuple[object, ...]]
) -> None:
    asyncio.run(check(pg_admin_url, template_database, ops))
