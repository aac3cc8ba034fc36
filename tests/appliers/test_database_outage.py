"""Every baton connection terminated mid-flight: the appliers and the promoter come back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from engine.backoff import Backoff
from engine.promotions import Promotions
from engine.store import EventMetadata
from engine.supervisor import Supervisor, TaskState
from tests.appliers.applier_stage import Stage, config_map

pytestmark = pytest.mark.timeout(90)


@contextlib.asynccontextmanager
async def refused(admin_url: str, database: str) -> AsyncIterator[None]:
    """Terminate every connection to `database` and refuse new ones until the block ends."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            database,
        )
        assert killed >= 3  # at least the lock, the listening and the pooled connections
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()


async def test_promotions_accepted_before_and_releases_made_during_an_outage_are_applied(
    stage: Stage, pg_admin_url: str
) -> None:
    stage.app({"dev": {"auto_promote": True}, "staging": {}})
    # a restart waits 3-6 s: long enough to record a release before the followers are back,
    # even on a busy machine
    supervisor = Supervisor(backoff=Backoff(base=6.0, cap=6.0), healthy_after=0.5)
    followers = ("promoter", "appliers-wake")
    try:
        async with stage.appliers(supervisor=supervisor):
            r1 = await stage.release({"config.yaml": config_map()})
            await stage.until_verified("dev", r1)
            await Promotions(stage.repository).request(
                stage.name, "staging", release=r1, metadata=EventMetadata(actor="alice")
            )
            database = await stage.store.pool.fetchval("SELECT current_database()")
            async with refused(pg_admin_url, database):

                async def followers_failed() -> bool:
                    return all(supervisor.status(n).state is TaskState.FAILING for n in followers)

                await stage.until(followers_failed, what="the log's followers to fail")
            restarts = {n: supervisor.status(n).restarts for n in followers}
            # recorded while the promoter and the wake loop wait to be started again
            r2 = await stage.release({"config.yaml": config_map(value="2")})
            assert {n: supervisor.status(n).restarts for n in followers} == restarts
            await stage.until_verified("staging", r1, within=30)
            await stage.until_verified("dev", r2, within=30)

            async def recovered() -> bool:
                return all(supervisor.status(n).state is TaskState.RUNNING for n in followers)

            await stage.until(recovered, what="the followers to be running again")
            assert all(supervisor.status(n).restarts > restarts[n] for n in followers)
    finally:
        await supervisor.stop()
