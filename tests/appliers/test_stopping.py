"""baton stops in the middle of a sync: the sync is closed, and the next start goes on."""

from __future__ import annotations

import asyncio
import textwrap
from dataclasses import replace

import pytest

from engine.appliers.stopping import STOPPING
from kubesim import Cluster
from tests.appliers.applier_stage import FAST, Stage, config_map, kubesim_only

pytestmark = pytest.mark.timeout(60)


def namespace(name: str) -> str:
    """A Namespace the release declares (applied one at a time, before the rest)."""
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Namespace
        metadata:
          name: {name}
        """
    )


def exists(cluster: Cluster, kind: str, name: str, namespace: str = "") -> bool:
    try:
        cluster.get("v1", kind, name, namespace)
    except Exception:
        return False
    return True


@kubesim_only
async def test_a_sync_cut_by_a_stop_finishes_its_request_and_is_closed_not_abandoned(
    stage: Stage,
) -> None:
    assert stage.sim is not None
    cluster = stage.sim.cluster("dev")
    cluster.faults.latency, cluster.faults.methods = 0.5, frozenset({"PATCH"})
    stage.app({"dev": {"auto_promote": True}})
    extra = [f"{stage.name}-extra{i}" for i in range(3)]
    files = {f"ns{i}.yaml": namespace(name) for i, name in enumerate(extra)}
    settings = replace(FAST, stop_grace=3.0)
    loop = asyncio.get_running_loop()
    async with stage.appliers(settings):
        r1 = await stage.release({**files, "config.yaml": config_map()})

        async def first_applied() -> bool:
            return exists(cluster, "Namespace", extra[0])

        await stage.until(first_applied, what="the first namespace to be applied")
        stopping_at = loop.time()  # the next namespace is on its way (0.5 s a request)
    assert loop.time() - stopping_at < settings.stop_grace
    applied = [n for n in extra if exists(cluster, "Namespace", n)]
    applied += ["settings"] if exists(cluster, "ConfigMap", "settings", f"{stage.name}-dev") else []
    events = await stage.events("dev")
    assert events[-1].type == "Target.SyncFailed"
    closed = events[-1].data
    started = next(e for e in events if e.type == "Target.SyncStarted")
    assert closed["sync_id"] == started.data["sync_id"]
    assert closed["reason"] == STOPPING
    # what the event says is what the cluster holds: the request in flight was finished
    assert closed["message"] == f"baton is stopping; {len(applied)} of 4 objects applied"
    assert 1 <= len(applied) < 4
    assert extra[len(applied)] in closed["object"]
    # the next start syncs again: no sync is left to abandon, the promotion goes on
    cluster.faults.reset()
    async with stage.appliers(settings):
        await stage.until_verified("dev", r1)
    types = await stage.types("dev")
    assert "SyncAbandoned" not in types and "PromotionFailed" not in types
    assert types.count("SyncSucceeded") == 1


@kubesim_only
async def test_a_stop_waits_no_longer_than_its_grace_for_a_request_that_hangs(
    stage: Stage,
) -> None:
    assert stage.sim is not None
    cluster = stage.sim.cluster("dev")
    cluster.faults.latency, cluster.faults.methods = 3.0, frozenset({"PATCH"})
    stage.app({"dev": {"auto_promote": True}})
    settings = replace(FAST, stop_grace=0.3)
    loop = asyncio.get_running_loop()
    async with stage.appliers(settings):
        await stage.release({"config.yaml": config_map()})

        async def syncing() -> bool:
            return "SyncStarted" in await stage.types("dev")

        await stage.until(syncing, what="a sync to start")
        stopping_at = loop.time()
    assert loop.time() - stopping_at < settings.stop_grace + 1.0
    events = await stage.events("dev")
    assert events[-1].type == "Target.SyncFailed"
    assert events[-1].data["message"] == "baton is stopping; 0 of 1 objects applied"
