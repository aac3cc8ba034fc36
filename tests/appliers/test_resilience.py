"""Crashes mid-sync, two appliers at once, API faults, and a cluster that is down."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from engine.appliers.inprocess import running_appliers
from engine.appliers.service import AppliersService
from engine.domain.enums import Health
from engine.kube import RetryPolicy
from engine.store import EventMetadata, EventStore
from engine.store.database import create_pool
from projections import queries
from projections.runner import ProjectionRunner
from tests.appliers.applier_stage import (
    REAL_KUBECONFIG,
    TEST_RETRY,
    Stage,
    config_map,
    kubesim_only,
    web,
)

pytestmark = pytest.mark.timeout(60)


@kubesim_only
async def test_an_applier_killed_mid_sync_is_resumed_by_the_next_one(stage: Stage) -> None:
    assert stage.sim is not None
    faults = stage.sim.cluster("dev").faults
    faults.latency, faults.methods = 3.0, frozenset({"PATCH"})  # applies hang for a while
    stage.app({"dev": {"auto_promote": True}})
    async with stage.appliers(graceful=False):  # ends as a killed process would
        r1 = await stage.release({"web.yaml": web(), "config.yaml": config_map()})

        async def syncing() -> bool:
            return "SyncStarted" in await stage.types("dev")

        await stage.until(syncing, what="a sync to start")
    # the appliers were cancelled in the middle of the sync: no outcome was recorded
    assert (await stage.types("dev"))[-1] == "SyncStarted"
    faults.reset()
    async with stage.appliers():
        await stage.until_verified("dev", r1)
    types = await stage.types("dev")
    assert types[3:7] == ["SyncStarted", "SyncAbandoned", "SyncStarted", "SyncSucceeded"]
    events = await stage.events("dev")
    abandoned = next(e for e in events if e.type == "Target.SyncAbandoned")
    first = next(e for e in events if e.type == "Target.SyncStarted")
    assert abandoned.data["sync_id"] == first.data["sync_id"]
    assert "no outcome" in abandoned.data["reason"]


async def test_a_sync_left_open_in_the_log_is_closed_as_abandoned_at_start(stage: Stage) -> None:
    stage.app({"dev": {"auto_promote": True}})
    async with stage.appliers(promoter=False):
        r1 = await stage.release({"config.yaml": config_map()})
    # as if an applier died right after recording SyncStarted
    from engine.promotions import Promotions

    await Promotions(stage.repository).request(
        stage.name, "dev", release=r1, metadata=EventMetadata(actor="alice")
    )
    target = await stage.target("dev")
    target.start_sync(
        sync_id="crashed",
        release=r1,
        object_count=2,
        reason="promotion",
        now=target.promotion.requested_at if target.promotion else None,
    )  # type: ignore[arg-type]
    await stage.repository.save(target, metadata=EventMetadata(actor="applier"))
    async with stage.appliers():
        await stage.until_verified("dev", r1)
    events = await stage.events("dev")
    abandoned = [e for e in events if e.type == "Target.SyncAbandoned"]
    assert [e.data["sync_id"] for e in abandoned] == ["crashed"]


async def test_two_appliers_never_work_on_one_target_at_once(
    stage: Stage, database_url: str
) -> None:
    stage.app(
        {
            "dev": {"auto_promote": True},
            "staging": {"auto_promote": True},
            "prod": {"auto_promote": True},
        }
    )
    streams = {f"target:{stage.name}:{e}" for e in ("dev", "staging", "prod")}
    pool = await create_pool(database_url, min_size=1, max_size=8)
    other_store = EventStore(pool)
    overlaps: list[str] = []

    async def watch(a: AppliersService, b: AppliersService) -> None:
        while True:
            for stream, worker in a.workers.items():
                if worker.acting and b.workers[stream].acting:
                    overlaps.append(stream)
            await asyncio.sleep(0.002)

    try:
        async with (
            stage.appliers() as first,
            running_appliers(
                store=other_store,
                config=stage.config,
                kubeconfig=stage.kubeconfig,
                contexts=stage.contexts,
                home=stage.home,
                settings=first.settings,
                retry=TEST_RETRY,
            ) as second,
        ):
            watcher = asyncio.create_task(watch(first, second), name="test-overlap-watch")

            async def shared() -> bool:
                return (first.owned | second.owned) == streams

            await stage.until(shared, what="every target to have an owner")
            assert not first.owned & second.owned
            r1 = await stage.release({"config.yaml": config_map()})
            await stage.until_verified("prod", r1)
            # the first process loses its database connection: it stops, the other takes over
            pid = first.locks.backend_pid
            if pid is not None:
                conn = await asyncpg.connect(database_url)
                await conn.execute("SELECT pg_terminate_backend($1)", pid)
                await conn.close()

            async def taken_over() -> bool:
                return second.owned == streams and not first.owned

            await stage.until(taken_over, what="the second process to own every target")
            r2 = await stage.release({"config.yaml": config_map(value="2")})
            await stage.until_verified("prod", r2)
            watcher.cancel()
    finally:
        await other_store.close()
        await pool.close()
    assert overlaps == []


@kubesim_only
async def test_injected_5xx_and_429_end_in_success_with_the_retries_in_the_events(
    stage: Stage,
) -> None:
    assert stage.sim is not None
    faults = stage.sim.cluster("dev").faults
    faults.error_rate, faults.throttle_rate, faults.retry_after = 0.3, 0.15, 1
    faults.methods = frozenset({"PATCH"})
    faults._random.seed(7)
    stage.app({"dev": {"auto_promote": True}})
    retry = RetryPolicy(attempts=12, base=0.02, cap=0.2, timeout=5.0)
    async with stage.appliers(retry=retry):
        r1 = await stage.release(
            {"web.yaml": web(), **{f"c{i}.yaml": config_map(f"c{i}") for i in range(6)}}
        )
        await stage.until_verified("dev", r1, within=40)
    synced = next(e for e in await stage.events("dev") if e.type == "Target.SyncSucceeded")
    attempts = [o["attempts"] for o in synced.data["objects"]]
    assert max(attempts) > 1
    runner = ProjectionRunner(stage.store.pool)
    await runner.ensure()
    await runner.catch_up()
    async with stage.store.pool.acquire() as conn:
        page = await queries.audit_page(conn, before_position=synced.position + 1, limit=1)
    assert page[0]["position"] == synced.position
    assert "retries" in page[0]["summary"] and "created" in page[0]["summary"]


def kubeconfig_with_unreachable_cluster(base: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A copy of `base` with one more context whose server does not answer."""
    doc: dict[str, Any] = yaml.safe_load(Path(base).read_text())
    doc["clusters"].append({"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}})
    user = doc["contexts"][0]["context"]["user"]
    doc["contexts"].append({"name": "gone", "context": {"cluster": "gone", "user": user}})
    path = tmp_path / "kubeconfig-with-gone"
    path.write_text(yaml.safe_dump(doc))
    return str(path), {"gone": "gone"}


async def test_a_cluster_that_is_down_marks_its_targets_unknown_and_blocks_no_other(
    stage: Stage, tmp_path: Path
) -> None:
    stage.app(
        {"dev": {"auto_promote": True}, "staging": {"auto_promote": True}},
        cluster={"staging": "gone"},
    )
    kubeconfig, contexts = kubeconfig_with_unreachable_cluster(stage.kubeconfig, tmp_path)
    stage.kubeconfig = kubeconfig
    stage.contexts = {**stage.contexts, **contexts}
    if REAL_KUBECONFIG:
        stage.contexts["gone"] = "gone"
    fast_fail = RetryPolicy(attempts=2, base=0.01, cap=0.05, timeout=0.5)
    async with stage.appliers(retry=fast_fail):
        r1 = await stage.release({"config.yaml": config_map()})
        await stage.until_verified("dev", r1)

        async def unknown() -> bool:
            try:
                target = await stage.target("staging")
            except LookupError:
                return False
            return target.health == Health.UNKNOWN and target.applied_release is None

        await stage.until(unknown, what="staging to be Unknown")
        r2 = await stage.release({"config.yaml": config_map(value="2")})
        await stage.until_verified("dev", r2)
    events = await stage.events("staging")
    # the cluster failed before a sync could start (reading the live state), or during it
    failed = [e.data["reason"] for e in events if e.type == "Target.SyncFailed"]
    assert set(failed) <= {"ClusterUnavailable"}
    health = [e for e in events if e.type == "Target.HealthChanged"]
    assert "cluster gone unavailable" in health[-1].data["reasons"][0]
