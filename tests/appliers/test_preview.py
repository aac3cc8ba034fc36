"""A preview shows what a promotion or rollback would decide and change, and writes nothing."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.appliers.render import GitRenderer
from engine.kube import Clusters, RetryPolicy
from engine.preview import DryRunStatus, Previewer, Verdict
from engine.promotions import Promotions
from engine.store import EventMetadata
from tests.appliers.applier_stage import Stage, config_map, kubesim_only, web

pytestmark = pytest.mark.timeout(90)
ALWAYS_FROZEN = {"name": "always", "schedule": "* * * * *", "duration": "2m"}
QUICK = RetryPolicy(attempts=2, base=0.01, cap=0.05, timeout=2.0)


@pytest.fixture
async def closing() -> AsyncIterator[list[Previewer]]:
    """Previewers whose cluster clients close after the test."""
    made: list[Previewer] = []
    yield made
    for each in made:
        if each.clusters is not None:
            await each.clusters.aclose()


def previewer(
    stage: Stage, closing: list[Previewer], *, kubeconfig: str | None = None
) -> Previewer:
    clusters = Clusters(
        kubeconfig=kubeconfig or stage.kubeconfig, contexts=stage.contexts, retry=QUICK
    )
    made = Previewer(
        Promotions(stage.repository),
        renderer=GitRenderer(stage.home),
        clusters=clusters,
        timeout=10,
    )
    closing.append(made)
    return made


async def live_object(
    stage: Stage, preview_of: Previewer, env: str, kind: str, name: str
) -> object:
    """The object in the environment's cluster, None when it is not there."""
    assert preview_of.clusters is not None
    client = await preview_of.clusters.client(f"kubesim:{env}")
    api_version = "apps/v1" if kind == "Deployment" else "v1"
    namespace = f"{stage.name}-{env}"  # the environment's default namespace
    return (await client.get(api_version, kind, namespace, name)).obj


def bad_web() -> str:
    """A Deployment whose selector does not match its pod template: the server refuses it."""
    return web("web:2").replace("matchLabels: {app: web}", "matchLabels: {app: other}")


async def running_r1_with_r2_released(
    stage: Stage, r2_files: dict[str, str | None]
) -> tuple[str, str]:
    """r1 verified in dev (web, settings=1, gone), then r2 released and not promoted."""
    r1 = await stage.release(
        {"web.yaml": web("web:1"), "settings.yaml": config_map(), "gone.yaml": config_map("gone")}
    )
    await Promotions(stage.repository).request(
        stage.name, "dev", release=r1, metadata=EventMetadata(actor="ada")
    )
    await stage.until_verified("dev", r1)
    r2 = await stage.release(r2_files)
    return r1, r2


@kubesim_only
async def test_a_preview_lists_the_added_changed_and_pruned_objects_and_writes_nothing(
    stage: Stage, closing: list[Previewer]
) -> None:
    stage.app({"dev": {}, "staging": {}})
    async with stage.appliers():
        r1, r2 = await running_r1_with_r2_released(
            stage,
            {
                "settings.yaml": config_map(value="2"),
                "extra.yaml": config_map("extra"),
                "gone.yaml": None,
            },
        )
        preview_of = previewer(stage, closing)
        head = await stage.store.head_position()
        preview = await preview_of.promotion(stage.name, "dev", release=r2[:10])
        assert await stage.store.head_position() == head, "a preview appends nothing"
        assert await live_object(stage, preview_of, "dev", "ConfigMap", "extra") is None
        settings = await live_object(stage, preview_of, "dev", "ConfigMap", "settings")
        assert settings is not None and settings["data"] == {"value": "1"}

    assert preview.check.accepted and preview.check.release is not None
    assert (preview.check.release.sha, preview.check.running) == (r2, r1)
    manifests = preview.manifests
    assert manifests is not None, preview.manifests_error
    assert [c.ref.describe() for c in manifests.added] == [f"ConfigMap {stage.name}-dev/extra"]
    assert [c.ref.describe() for c in manifests.changed] == [f"ConfigMap {stage.name}-dev/settings"]
    assert [c.ref.describe() for c in manifests.pruned] == [f"ConfigMap {stage.name}-dev/gone"]
    assert manifests.unchanged == 1  # the Deployment
    assert manifests.changed[0].diff == textwrap.dedent(f"""\
        --- running {r1[:12]}: ConfigMap {stage.name}-dev/settings
        +++ candidate {r2[:12]}: ConfigMap {stage.name}-dev/settings
        @@ -1,6 +1,6 @@
         apiVersion: v1
         data:
        -  value: '1'
        +  value: '2'
         kind: ConfigMap
         metadata:
           name: settings
        """)
    assert preview.dry_run.status is DryRunStatus.DONE
    assert {o.ref.name: o.verdict for o in preview.dry_run.objects} == {
        "extra": Verdict.OK,
        "settings": Verdict.OK,
    }


@kubesim_only
async def test_a_dry_run_reports_what_the_api_server_would_refuse_and_creates_nothing(
    stage: Stage, closing: list[Previewer]
) -> None:
    stage.app({"dev": {}})
    async with stage.appliers():
        _, r2 = await running_r1_with_r2_released(
            stage, {"web.yaml": bad_web(), "extra.yaml": config_map("extra")}
        )
        preview_of = previewer(stage, closing)
        preview = await preview_of.promotion(stage.name, "dev", release=r2)
        web_now = await live_object(stage, preview_of, "dev", "Deployment", "web")
        assert await live_object(stage, preview_of, "dev", "ConfigMap", "extra") is None

    assert preview.check.accepted, "the rules allow it; only the cluster would refuse"
    assert preview.dry_run.status is DryRunStatus.DONE
    refused = preview.dry_run.refused
    assert [o.ref.describe() for o in refused] == [f"Deployment {stage.name}-dev/web"]
    assert "422 Invalid" in refused[0].message and "selector" in refused[0].message
    assert isinstance(web_now, dict)
    assert web_now["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"


@kubesim_only
async def test_a_refused_promotion_lists_every_reason_and_still_shows_its_changes(
    stage: Stage, closing: list[Previewer]
) -> None:
    stage.app({"dev": {}, "staging": {"approvals": 2, "freeze": [ALWAYS_FROZEN]}})
    async with stage.appliers():
        _, r2 = await running_r1_with_r2_released(stage, {"extra.yaml": config_map("extra")})
        preview_of = previewer(stage, closing)
        head = await stage.store.head_position()
        preview = await preview_of.promotion(stage.name, "staging", from_environment="dev")
        unverified = await preview_of.promotion(stage.name, "staging", release=r2)
        assert await stage.store.head_position() == head

    assert [e.code for e in preview.check.refusals] == ["environment-frozen"]
    assert preview.check.approvals_required == 2
    assert [e.code for e in unverified.check.refusals] == [
        "not-verified-upstream",
        "environment-frozen",
    ]
    assert "not been verified in dev" in str(unverified.check.refusals[0])
    assert unverified.manifests is not None
    assert {c.ref.name for c in unverified.manifests.added} == {"web", "settings", "gone", "extra"}
    # nothing runs in staging yet: its namespace is created by the first sync
    assert {o.verdict for o in unverified.dry_run.objects} == {Verdict.SKIPPED}


@kubesim_only
async def test_a_rollback_preview_goes_back_only_to_a_release_verified_there(
    stage: Stage, closing: list[Previewer]
) -> None:
    stage.app({"dev": {}})
    async with stage.appliers():
        r1, r2 = await running_r1_with_r2_released(stage, {"settings.yaml": config_map(value="2")})
        await Promotions(stage.repository).request(
            stage.name, "dev", release=r2, metadata=EventMetadata(actor="ada")
        )
        await stage.until_verified("dev", r2)
        r3 = await stage.release({"settings.yaml": config_map(value="3")})
        preview_of = previewer(stage, closing)
        back = await preview_of.rollback(stage.name, "dev")
        never = await preview_of.rollback(stage.name, "dev", to=r3)

    assert back.check.accepted and back.check.release is not None
    assert back.check.release.sha == r1 and back.check.approvals_required == 0
    assert back.manifests is not None
    assert [c.ref.name for c in back.manifests.changed] == ["settings"]
    assert "-  value: '2'\n+  value: '1'\n" in back.manifests.changed[0].diff
    assert [e.code for e in never.check.refusals] == ["no-rollback-target"]


async def test_a_cluster_that_does_not_answer_leaves_the_dry_run_unavailable(
    stage: Stage, closing: list[Previewer], tmp_path: Path
) -> None:
    nowhere = tmp_path / "nowhere.kubeconfig"
    nowhere.write_text(
        textwrap.dedent("""\
            apiVersion: v1
            kind: Config
            clusters: [{name: nowhere, cluster: {server: "http://127.0.0.1:9"}}]
            users: [{name: someone, user: {token: t}}]
            contexts: [{name: dev, context: {cluster: nowhere, user: someone}}]
            current-context: dev
            """)
    )
    stage.app({"dev": {}})
    r1 = await stage.release({"settings.yaml": config_map()})
    preview = await previewer(stage, closing, kubeconfig=str(nowhere)).promotion(
        stage.name, "dev", release=r1
    )
    assert preview.check.accepted
    assert preview.manifests is not None and len(preview.manifests.added) == 1
    assert preview.dry_run.status is DryRunStatus.UNAVAILABLE
    assert "unavailable" in preview.dry_run.reason
