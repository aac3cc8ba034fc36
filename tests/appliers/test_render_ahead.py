"""A new release is rendered as soon as it is seen, like Argo CD renders a new revision:
promoting it later reads nothing from Git."""

from __future__ import annotations

import shutil

import pytest

from engine.appliers.render import GitRenderer
from engine.domain.ids import target_stream
from engine.git.manifests import mirror_path
from engine.promotions import Promotions
from engine.store import EventMetadata
from tests.appliers.applier_stage import Stage, web

pytestmark = pytest.mark.timeout(60)


async def test_a_release_rendered_when_it_was_created_deploys_without_its_git_mirror(
    stage: Stage,
) -> None:
    spec = stage.app({"dev": {}})
    async with stage.appliers() as service:
        worker = service.workers[target_stream(stage.name, "dev")]
        renderer = service.ctx.renderer
        assert isinstance(renderer, GitRenderer)

        async def held() -> bool:
            return worker.passes >= 1

        await stage.until(held, what="the applier to hold dev")
        release = await stage.release({"web.yaml": web("web:1")})

        async def rendered() -> bool:
            return renderer.rendered(spec.name, release, "dev")

        await stage.until(rendered, what="the new release to be rendered ahead")
        # Git goes away: a render now would fail, so the deploy proves it needs none
        shutil.rmtree(mirror_path(stage.home, spec.name))
        await Promotions(stage.repository).request(
            stage.name, "dev", release=release, metadata=EventMetadata(actor="alice")
        )
        target = await stage.until_verified("dev", release)
    assert target.applied_release == release
