"""Previews over HTTP: what a promotion or rollback would decide, for whom, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import SHA1, SHA2, Api, problem


async def preview(api: Api, what: str, body: dict[str, Any], *, as_: str) -> dict[str, Any]:
    response = await api.post(f"/{what}/preview", {"app": "web", **body}, as_=as_)
    answer = await response.json()
    assert response.status == 200, answer
    return answer  # type: ignore[no-any-return]


async def test_a_preview_of_a_refused_promotion_lists_its_reasons_and_writes_nothing(
    api: Api,
) -> None:
    head = await api.promotions.repository.store.head_position()
    answer = await preview(
        api, "promotions", {"environment": "staging", "release": SHA1}, as_="viewer"
    )
    assert await api.promotions.repository.store.head_position() == head
    assert answer["release"] == SHA1 and answer["running_release"] is None
    assert (answer["accepted"], answer["allowed"]) == (False, False)
    assert answer["required_role"] == "promoter"
    assert [(r["code"], r["status"]) for r in answer["refusals"]] == [
        ("forbidden", 403),
        ("not-verified-upstream", 409),
    ]
    assert answer["refusals"][0]["message"] == "viewer needs the promoter role in staging"
    assert "not been verified in dev" in answer["refusals"][1]["message"]
    # this process has no mirror of the app: no manifests, so nothing to dry-run
    assert answer["manifests"] is None and "no mirror of web" in answer["manifests_error"]
    assert answer["dry_run"] == {"status": "skipped", "reason": None, "objects": []}


async def test_a_preview_says_when_the_promotion_would_go_through_and_its_approvals(
    api: Api,
) -> None:
    dev = await preview(api, "promotions", {"environment": "dev", "release": SHA1}, as_="dev")
    assert (dev["accepted"], dev["allowed"], dev["refusals"]) == (True, True, [])
    assert dev["approvals_required"] == 0 and dev["kind"] == "manual"

    for env in ("dev", "staging"):
        assert (await api.promote(env, SHA1)).status == 202
        await api.verify_in(env, SHA1)
    prod = await preview(
        api, "promotions", {"environment": "prod", "from_environment": "staging"}, as_="lead"
    )
    assert (prod["release"], prod["release_number"]) == (SHA1, 1)
    assert prod["accepted"] and prod["approvals_required"] == 1

    overriding = await preview(
        api,
        "promotions",
        {"environment": "prod", "release": SHA2, "override": {"reason": "hotfix"}},
        as_="lead",
    )
    assert overriding["required_role"] == "admin" and not overriding["allowed"]
    assert [r["code"] for r in overriding["refusals"]] == ["forbidden"]


async def test_a_rollback_preview_names_the_release_it_would_go_back_to(api: Api) -> None:
    nothing = await preview(api, "rollbacks", {"environment": "dev"}, as_="dev")
    assert [r["code"] for r in nothing["refusals"]] == ["no-rollback-target"]
    assert nothing["release"] is None and not nothing["accepted"]

    for sha in (SHA1, SHA2):
        assert (await api.promote("dev", sha)).status == 202
        await api.verify_in("dev", sha)
    head = await api.promotions.repository.store.head_position()
    back = await preview(api, "rollbacks", {"environment": "dev"}, as_="viewer")
    assert await api.promotions.repository.store.head_position() == head
    assert back["kind"] == "rollback" and back["release"] == SHA1
    assert back["running_release"] == SHA2 and back["approvals_required"] == 0
    assert [r["code"] for r in back["refusals"]] == ["forbidden"]  # the viewer may only look


@pytest.mark.parametrize(
    ("what", "body", "code", "field"),
    [
        ("promotions", {"environment": "dev", "release": "0" * 40}, "unknown-release", "release"),
        (
            "promotions",
            {"environment": "qa", "release": SHA1},
            "unknown-environment",
            "environment",
        ),
        ("promotions", {"environment": "dev"}, "validation-error", "body"),
        ("rollbacks", {"environment": "dev", "release": "0" * 40}, "unknown-release", "release"),
        ("rollbacks", {"environment": "qa"}, "unknown-environment", "environment"),
        ("rollbacks", {"environment": "dev", "to": SHA1}, "validation-error", "to"),
    ],
)
async def test_a_preview_refuses_what_the_command_would_refuse_as_unknown(
    api: Api, what: str, body: dict[str, Any], code: str, field: str
) -> None:
    response = await api.post(f"/{what}/preview", {"app": "web", **body}, as_="viewer")
    assert (await problem(response, 422, code))["field"] == field


async def test_a_preview_of_an_unknown_app_names_the_app(api: Api) -> None:
    response = await api.post(
        "/promotions/preview", {"app": "nope", "environment": "dev", "release": SHA1}, as_="dev"
    )
    assert (await problem(response, 422, "unknown-app"))["field"] == "app"
