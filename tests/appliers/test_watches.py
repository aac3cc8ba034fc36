"""Health and drift follow watches: a rollout's end, or an edit by hand, is recorded within
about a second, though the relists come only once a minute; a cut watch misses nothing."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from engine.appliers.service import AppliersService
from engine.store import RecordedEvent
from kubesim import Cluster, DropMode
from kubesim.operations import WriteOptions
from kubesim.patches import PatchType
from tests.appliers.applier_stage import FAST, Stage, config_map, kubesim_only, web
from tests.appliers.rollouts import RolloutClock, health_lag
from tests.appliers.test_rollback_drift_prune import kubectl

pytestmark = [pytest.mark.timeout(60), kubesim_only]
# relists once a minute: within a test, only a watch can tell baton of a change
SLOW = replace(FAST, drift_interval=60.0, health_interval=60.0)


async def test_a_rollout_that_turns_healthy_is_recorded_within_a_second(stage: Stage) -> None:
    assert stage.sim is not None
    clock = RolloutClock(stage.sim.cluster("dev"))
    stage.app({"dev": {"auto_promote": True}})
    try:
        async with stage.appliers(SLOW):
            release = await stage.release({"web.yaml": web("web:1", replicas=3)})
            await stage.until_verified("dev", release, within=15.0)
    finally:
        clock.close()
    ready = clock.ready[(f"{stage.name}-dev", "web")]
    lag = health_lag(await stage.events("dev"), "Healthy", ready)
    assert lag is not None and lag < 1.0, f"Healthy recorded {lag}s after the rollout ended"


async def test_a_rollout_that_degrades_is_recorded_within_a_second(stage: Stage) -> None:
    assert stage.sim is not None
    stage.sim.cluster("dev").fail_image(":broken")
    clock = RolloutClock(stage.sim.cluster("dev"))
    stage.app({"dev": {"auto_promote": True}})
    try:
        async with stage.appliers(SLOW):
            await stage.release({"web.yaml": web("web:broken")})

            async def failed() -> bool:
                return "PromotionFailed" in await stage.types("dev")

            await stage.until(failed, within=15.0, what="the promotion to fail")
    finally:
        clock.close()
    past = clock.degraded[(f"{stage.name}-dev", "web")]
    lag = health_lag(await stage.events("dev"), "Degraded", past)
    assert lag is not None and lag < 1.0, f"Degraded recorded {lag}s after the deadline"


async def test_an_edit_by_hand_is_noticed_through_the_watch(stage: Stage) -> None:
    stage.app({"dev": {"auto_promote": True, "self_heal": False}})
    async with stage.appliers(SLOW):
        release = await stage.release({"config.yaml": config_map(value="1")})
        await stage.until_verified("dev", release)
        edited = time.time()
        await kubectl(stage, "dev", "-n", f"{stage.name}-dev", "patch", "configmap", "settings",
                      "--type=merge", "-p", '{"data":{"value":"2"}}')  # fmt: skip
        drift = await _drift(stage, within=5.0)
    assert drift.data["objects"] == [
        {"object": f"ConfigMap {stage.name}-dev/settings", "fields": ["data.value: 1 → 2"]}
    ]
    assert drift.recorded_at.timestamp() - edited < 2.0  # kubectl's own start included


async def test_an_object_larger_than_a_read_buffer_comes_through_the_watch(stage: Stage) -> None:
    blob = "x" * 300_000  # one watch event line of 300 kB
    manifest = config_map(value="1") + f'  blob: "{blob}"\n'
    stage.app({"dev": {"auto_promote": True, "self_heal": False}})
    async with stage.appliers(SLOW) as service:
        release = await stage.release({"config.yaml": manifest})
        await stage.until_verified("dev", release)
        await kubectl(stage, "dev", "-n", f"{stage.name}-dev", "patch", "configmap", "settings",
                      "--type=merge", "-p", '{"data":{"value":"2"}}')  # fmt: skip
        drift = await _drift(stage, within=5.0)
        assert not await _restarted(service, times=1)  # read whole, not failed and relisted
    assert drift.data["objects"][0]["fields"] == ["data.value: 1 → 2"]


async def test_a_watch_the_server_cut_and_compacted_relists_and_misses_nothing(
    stage: Stage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="engine.appliers.watches")
    assert stage.sim is not None
    cluster = stage.sim.cluster("dev")
    stage.app({"dev": {"auto_promote": True, "self_heal": False}})
    async with stage.appliers(SLOW):
        release = await stage.release({"config.yaml": config_map(value="1")})
        await stage.until_verified("dev", release)

        async def watching() -> bool:
            return bool(cluster.watch_queues)

        await stage.until(watching, what="the ConfigMap watch to be open")
        # in one step of the loop: the server ends every watch, the edit falls after the
        # end of the stream, and the history a watch would resume from is forgotten (410)
        cluster.close_watches()
        _edit_settings(cluster, f"{stage.name}-dev", "2")
        cluster.store.compact()
        drift = await _drift(stage, within=5.0)
    assert drift.data["objects"][0]["fields"] == ["data.value: 1 → 2"]
    assert "410 Expired" in caplog.text  # resumed too far back: listed again


async def test_watches_cut_again_and_again_are_restarted_and_miss_nothing(stage: Stage) -> None:
    assert stage.sim is not None
    cluster = stage.sim.cluster("dev")
    stage.app({"dev": {"auto_promote": True, "self_heal": False}})
    async with stage.appliers(SLOW) as service:
        release = await stage.release({"config.yaml": config_map(value="1")})
        await stage.until_verified("dev", release)
        cluster.faults.watch_drop_mode = DropMode.RESET  # a broken connection, every 0.3 s
        cluster.faults.watch_drop_after = 0.3
        cluster.close_watches()  # the open ones end; the next are cut
        await stage.until(lambda: _restarted(service), what="the watch to be cut and restarted")
        _edit_settings(cluster, f"{stage.name}-dev", "2")
        drift = await _drift(stage, within=10.0)
    assert drift.data["objects"][0]["fields"] == ["data.value: 1 → 2"]


async def _restarted(service: AppliersService, *, times: int = 2) -> bool:
    assert service._supervisor is not None
    return any(
        s.name.startswith("appliers-watch:kubesim:dev:v1/ConfigMap") and s.restarts >= times
        for s in service._supervisor.statuses()
    )


def _edit_settings(cluster: Cluster, namespace: str, value: str) -> None:
    """Someone changes the ConfigMap baton applied (from Python: no await in between)."""
    rt = cluster.registry.by_kind("v1", "ConfigMap")
    assert rt is not None
    cluster.ops.patch(rt, namespace, "settings", PatchType.MERGE, {"data": {"value": value}},
                      WriteOptions(field_manager="kubectl-edit"))  # fmt: skip


async def _drift(stage: Stage, *, within: float) -> RecordedEvent:
    async def detected() -> bool:
        return "DriftDetected" in await stage.types("dev")

    await stage.until(detected, within=within, what="the drift to be detected")
    return next(e for e in await stage.events("dev") if e.type == "Target.DriftDetected")
