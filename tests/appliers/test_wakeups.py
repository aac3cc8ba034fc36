"""An applier acts on a promotion when it is told of it, not when its timer comes round."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.domain.ids import target_stream
from engine.promotions import Promotions
from engine.store import EventMetadata
from tests.appliers.applier_stage import FAST, Stage, web

pytestmark = pytest.mark.timeout(60)
HOUR = 3600.0


async def test_a_promotion_wakes_its_idle_applier_long_before_the_next_drift_check(
    stage: Stage,
) -> None:
    stage.app({"dev": {}})  # manual promotions, no approvals
    async with stage.appliers(replace(FAST, drift_interval=HOUR)) as service:
        worker = service.workers[target_stream(stage.name, "dev")]
        release = await stage.release({"web.yaml": web("web:1")})

        async def idle() -> bool:
            return worker.passes >= 1  # found nothing to do; sleeps for the drift interval

        await stage.until(idle, what="the applier's first pass")
        await Promotions(stage.repository).request(
            stage.name, "dev", release=release, metadata=EventMetadata(actor="alice")
        )

        async def syncing() -> bool:
            return "SyncStarted" in await stage.types("dev")

        await stage.until(syncing, within=10.0, what="the applier to start the sync")
        await stage.until_verified("dev", release)
    assert (await stage.target("dev")).applied_release == release
