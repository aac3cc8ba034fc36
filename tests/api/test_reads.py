"""The read side over HTTP: pipeline, releases, lineage, audit log, time travel, replay."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.domain.app import App
from engine.store import EventMetadata
from tests.api.conftest import CONFIG, SHA1, SHA2, SHA3, Api, problem


async def _walk_to_prod(api: Api) -> dict[str, Any]:
    """SHA1 verified in dev and staging; its prod promotion awaits approval."""
    for env in ("dev", "staging"):
        await api.promote(env)
        await api.verify_in(env, SHA1)
    promotion = await (await api.promote("prod", as_="release-manager")).json()
    await api.caught_up()
    return promotion  # type: ignore[no-any-return]


async def test_the_pipeline_shows_each_environment_in_order_with_what_is_in_flight(
    api: Api,
) -> None:
    promotion = await _walk_to_prod(api)
    apps = await (await api.get("/apps")).json()
    assert [a["name"] for a in apps["items"]] == ["web"]
    app = await (await api.get("/apps/web")).json()
    assert app["source"]["repo"] == "https://git.example/web.git"
    envs = {e["environment"]: e for e in app["environments"]}
    assert [e["environment"] for e in app["environments"]] == ["dev", "staging", "prod"]
    assert envs["dev"]["desired_release"] == SHA1 and envs["dev"]["applied_release"] == SHA1
    assert envs["dev"]["health"] == "Healthy" and envs["dev"]["in_flight"] is None
    assert envs["prod"]["in_flight"] == {
        "id": promotion["id"],
        "release": SHA1,
        "phase": "awaiting_approval",
    }
    assert envs["prod"]["policy"]["approvals"] == 1 and envs["prod"]["upstream"] == "staging"


async def test_the_apps_show_a_changed_pipeline_and_a_new_app(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.pipelines._RECHECK_S", 0.0)  # no second's grace for stale
    await api.caught_up()
    before = await (await api.get("/apps")).json()
    assert before["items"][0]["environments"][2]["policy"]["approvals"] == 1
    repository = api.promotions.repository
    web = await repository.get(App, "app:web")
    stricter = {
        **CONFIG,
        "environments": [*CONFIG["environments"][:2], {"name": "prod", "policy": {"approvals": 2}}],
    }
    assert web.change_config(stricter)
    await repository.save(web, metadata=EventMetadata(actor="config"))
    config = EventMetadata(actor="config")
    await api.promotions.register_app("shop", CONFIG, metadata=config)
    await api.promotions.create_release(
        "shop",
        sha=SHA1,
        digest="d" * 64,
        message="one",
        author="dev",
        committed_at=datetime.now(UTC),
        metadata=config,
    )
    await api.caught_up()
    after = await (await api.get("/apps")).json()
    assert [a["name"] for a in after["items"]] == ["shop", "web"]
    assert [a["environments"][2]["policy"]["approvals"] for a in after["items"]] == [1, 2]
    web_alone = await (await api.get("/apps/web")).json()
    assert web_alone["environments"][2]["policy"]["approvals"] == 2


async def test_an_unknown_app_is_404(api: Api) -> None:
    await problem(await api.get("/apps/nope"), 404, "not-found")
    await problem(await api.get("/apps/nope/releases"), 404, "not-found")
    await problem(await api.get(f"/apps/web/releases/{'9' * 40}"), 404, "not-found")


async def test_releases_are_paged_newest_first(api: Api) -> None:
    await api.caught_up()
    first = await (await api.get("/apps/web/releases?limit=2")).json()
    assert [r["sha"] for r in first["items"]] == [SHA3, SHA2]
    assert first["next_before"] == 2
    rest = await (await api.get("/apps/web/releases?limit=2&before=2")).json()
    assert [r["sha"] for r in rest["items"]] == [SHA1] and rest["next_before"] is None


async def test_a_releases_lineage_says_where_it_went_and_with_whose_approval(api: Api) -> None:
    promotion = await _walk_to_prod(api)
    await api.post(f"/promotions/{promotion['id']}/approve", {"comment": "go"}, as_="approver")
    await api.caught_up()
    lineage = await (await api.get(f"/apps/web/releases/{SHA1[:10]}")).json()
    assert lineage["sha"] == SHA1
    by_env = {e["environment"]: e for e in lineage["environments"]}
    assert set(by_env) == {"dev", "staging", "prod"}
    assert by_env["dev"]["verified_at"] is not None
    assert [a["by"] for a in by_env["prod"]["approvals"]] == ["approver"]


async def test_the_promotion_read_model_answers_once_caught_up(api: Api) -> None:
    promotion = await _walk_to_prod(api)
    body = await (await api.get(f"/promotions/{promotion['id']}")).json()
    assert body["phase"] == "awaiting_approval" and body["requested_by"] == "release-manager"


async def test_the_audit_log_filters_and_pages_with_a_cursor(api: Api) -> None:
    promotion = await _walk_to_prod(api)
    await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")
    await api.caught_up()
    prod = await (await api.get("/events?app=web&environment=prod")).json()
    assert prod["items"] and all(i["environment"] == "prod" for i in prod["items"])
    positions = [i["position"] for i in prod["items"]]
    assert positions == sorted(positions, reverse=True)
    by_approver = await (await api.get("/events?actor=approver")).json()
    assert {i["actor"] for i in by_approver["items"]} == {"approver"}

    page = await (await api.get("/events?app=web&limit=3")).json()
    assert len(page["items"]) == 3 and page["next_before"] == page["items"][-1]["position"]
    seen = [i["position"] for i in page["items"]]
    while page["next_before"] is not None:
        page = await (await api.get(f"/events?app=web&limit=3&before={page['next_before']}")).json()
        seen += [i["position"] for i in page["items"]]
    assert seen == sorted(set(seen), reverse=True)
    everything = await (await api.get("/events?app=web&limit=500")).json()
    assert seen == [i["position"] for i in everything["items"]]


async def test_the_audit_log_filters_by_event_type_short_or_full(api: Api) -> None:
    promotion = await _walk_to_prod(api)
    await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")
    await api.caught_up()
    short = await (await api.get("/events?type=PromotionApproved")).json()
    assert short["items"] and {i["event_type"] for i in short["items"]} == {
        "Target.PromotionApproved"
    }
    full = await (await api.get("/events?type=Target.PromotionApproved")).json()
    assert full["items"] == short["items"]
    assert (await (await api.get("/events?type=App.PromotionApproved")).json())["items"] == []
    assert (await (await api.get("/events?type=PolicyOverridden")).json())["items"] == []


async def test_the_audit_log_streams_as_ndjson(api: Api) -> None:
    await _walk_to_prod(api)
    response = await api.get("/events?app=web", headers={"Accept": "application/x-ndjson"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in (await response.text()).splitlines()]
    page = await (await api.get("/events?app=web&limit=500")).json()
    assert lines == page["items"]


async def test_bad_filters_are_422_naming_the_parameter(api: Api) -> None:
    for query, field in (
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("before=-1", "before"),
    ):
        body = await problem(await api.get(f"/events?{query}"), 422, "validation-error")
        assert body["field"] == field


async def test_time_travel_answers_what_ran_where_by_position_and_time_and_diffs(
    api: Api,
) -> None:
    await api.promote("dev", SHA1)
    await api.verify_in("dev", SHA1)
    middle = await api.promotions.repository.store.head_position()
    await asyncio.sleep(0.01)
    await api.promote("dev", SHA2)
    await api.caught_up()

    then = await (await api.get(f"/state?as_of={middle}")).json()
    dev_then = [t for t in then["targets"] if t["environment"] == "dev"]
    assert dev_then[0]["desired_release"] == SHA1 and then["as_of"] == {"position": middle}
    now = await (await api.get("/state")).json()
    assert [t["desired_release"] for t in now["targets"] if t["environment"] == "dev"] == [SHA2]
    by_time = await (await api.get("/state?as_of=2020-01-01T00:00:00Z")).json()
    assert by_time["targets"] == []

    diff = await (await api.get(f"/state/diff?from={middle}")).json()
    assert {
        "app": "web",
        "environment": "dev",
        "field": "desired_release",
        "from": SHA1,
        "to": SHA2,
    } in diff["changes"]
    await problem(await api.get("/state/diff"), 422, "validation-error")
    await problem(await api.get("/state?as_of=soon"), 422, "validation-error")


async def test_a_replay_runs_as_a_job_that_can_be_polled(api: Api) -> None:
    await _walk_to_prod(api)
    started = await api.post("/admin/replay", {"projections": ["state"]}, as_="admin")
    job = await started.json()
    assert started.status == 202, job
    assert started.headers["Location"] == f"/api/v1/admin/replay/{job['id']}"
    async with asyncio.timeout(20):
        while job["state"] == "running":
            await asyncio.sleep(0.05)
            job = await (await api.get(f"/admin/replay/{job['id']}", as_="admin")).json()
    assert job["state"] == "succeeded", job
    assert job["result"]["projections"] == ["state"]
    unknown = await api.post("/admin/replay", {"projections": ["nope"]}, as_="admin")
    await problem(unknown, 422, "validation-error")
    await problem(await api.get("/admin/replay/nope", as_="admin"), 404)


async def test_projection_status_shows_checkpoints_and_lag(api: Api) -> None:
    await api.caught_up()
    status = await (await api.get("/admin/projections", as_="admin")).json()
    assert {p["name"] for p in status["projections"]} >= {"state", "audit", "history"}
    assert all(p["lag"] == 0 for p in status["projections"])
    assert status["head_position"] > 0
