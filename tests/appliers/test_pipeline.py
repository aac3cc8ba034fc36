"""End to end: a Git commit becomes a release and walks dev → staging → prod."""

from __future__ import annotations

import pytest

from engine.domain.enums import Health, PromotionKind, SyncStatus
from tests.appliers.applier_stage import Stage, config_map, web

pytestmark = pytest.mark.timeout(60)


async def test_a_commit_becomes_a_release_that_walks_the_pipeline_and_becomes_healthy(
    stage: Stage,
) -> None:
    stage.app(
        {
            "dev": {"auto_promote": True},
            "staging": {"auto_promote": True, "soak": "1s"},
            "prod": {"auto_promote": True},
        }
    )
    async with stage.appliers():
        r1 = await stage.release({"web.yaml": web("web:1"), "config.yaml": config_map()})
        for env in ("dev", "staging", "prod"):
            target = await stage.until_verified(env, r1)
            assert target.health == Health.HEALTHY
            assert target.sync_status == SyncStatus.SYNCED
            assert target.applied_release == r1
    staging = await stage.types("staging")
    assert staging[:6] == [
        "Created",
        "PromotionRequested",
        "PromotionStarted",
        "SyncStarted",
        "SyncSucceeded",
        "HealthChanged",
    ]
    assert "PromotionVerified" in staging
    events = await stage.events("staging")
    started = next(e for e in events if e.type == "Target.PromotionStarted")
    requested = next(e for e in events if e.type == "Target.PromotionRequested")
    assert requested.data["kind"] == PromotionKind.AUTO
    assert started.metadata.actor == "promoter"
    synced = next(e for e in events if e.type == "Target.SyncSucceeded")
    assert synced.metadata.actor == "applier"
    assert synced.metadata.correlation_id == started.metadata.correlation_id
    assert synced.metadata.causation_id == str(started.position)
    objects = {(o["kind"], o["name"]): o["action"] for o in synced.data["objects"]}
    assert objects == {
        ("ConfigMap", "settings"): "created",
        ("Deployment", "web"): "created",
    }
    verified = next(e for e in events if e.type == "Target.PromotionVerified")
    healthy = next(
        e for e in events if e.type == "Target.HealthChanged" and e.data["health"] == "Healthy"
    )
    assert (verified.recorded_at - healthy.recorded_at).total_seconds() >= 1.0  # the soak
