"""Promotions and rollbacks through HTTP: the happy paths and every policy refusal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.store import EventMetadata
from tests.api.conftest import SHA1, SHA2, Api, problem

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_promotion_is_accepted_with_its_location_and_starts_where_no_approval_is_needed(
    api: Api,
) -> None:
    response = await api.promote("dev", reason="first", headers={"traceparent": TRACEPARENT})
    body = await response.json()
    assert response.status == 202, body
    assert response.headers["Location"] == f"/api/v1/promotions/{body['id']}"
    assert body["phase"] == "started" and body["requested_by"] == "dev"
    assert body["release"] == SHA1 and body["reason"] == "first"

    fetched = await api.get(f"/promotions/{body['id']}")
    assert fetched.status == 200
    assert (await fetched.json())["id"] == body["id"]


async def test_every_write_records_the_actor_and_the_trace_context(api: Api) -> None:
    response = await api.promote("dev", headers={"traceparent": TRACEPARENT})
    assert response.status == 202
    events = await api.promotions.repository.store.read_stream("target:web:dev")
    requested = [e for e in events if e.type.startswith("Target.Promotion")]
    assert requested
    for event in requested:
        assert event.metadata.actor == "dev"
        assert event.metadata.traceparent == TRACEPARENT
        assert event.metadata.correlation_id == (await response.json())["id"]


async def test_a_malformed_traceparent_is_ignored_rather_than_failing_the_write(api: Api) -> None:
    response = await api.promote("dev", headers={"traceparent": "not-a-trace"})
    assert response.status == 202
    events = await api.promotions.repository.store.read_stream("target:web:dev")
    assert all(e.metadata.traceparent is None for e in events)


async def test_promotion_from_an_environment_takes_its_last_verified_release(api: Api) -> None:
    await api.promote("dev")
    await api.verify_in("dev", SHA1)
    response = await api.post(
        "/promotions",
        {"app": "web", "environment": "staging", "from_environment": "dev"},
        as_="dev",
    )
    body = await response.json()
    assert response.status == 202, body
    assert body["release"] == SHA1 and body["from_environment"] == "dev"


async def test_promotion_to_prod_needs_an_approval_from_someone_else(api: Api) -> None:
    for env in ("dev", "staging"):
        assert (await api.promote(env)).status == 202
        await api.verify_in(env, SHA1)
    created = await api.promote("prod", as_="lead")
    promotion = await created.json()
    assert promotion["phase"] == "awaiting_approval"

    own = await api.post(f"/promotions/{promotion['id']}/approve", {}, as_="lead")
    await problem(own, 403, "self-approval")

    approved = await api.post(
        f"/promotions/{promotion['id']}/approve", {"comment": "lgtm"}, as_="approver"
    )
    body = await approved.json()
    assert approved.status == 200, body
    assert body["phase"] == "started"
    assert body["approvals"][0]["by"] == "approver" and body["approvals"][0]["comment"] == "lgtm"


async def test_a_fresh_promotion_can_be_approved_at_once_and_twice_is_refused(api: Api) -> None:
    await api.promote("dev")
    await api.verify_in("dev", SHA1)
    await api.promote("staging")
    await api.verify_in("staging", SHA1)
    promotion = await (await api.promote("prod", as_="release-manager")).json()
    first = await api.post(f"/promotions/{promotion['id']}/approve", as_="lead")
    assert first.status == 200
    again = await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")
    await problem(again, 409, "invalid-promotion-state")


async def _awaiting_prod(api: Api) -> dict[str, Any]:
    for env in ("dev", "staging"):
        await api.promote(env)
        await api.verify_in(env, SHA1)
    return await (await api.promote("prod", as_="release-manager")).json()  # type: ignore[no-any-return]


async def test_a_rejected_promotion_ends_and_frees_the_target(api: Api) -> None:
    promotion = await _awaiting_prod(api)
    rejected = await api.post(
        f"/promotions/{promotion['id']}/reject", {"reason": "not today"}, as_="approver"
    )
    body = await rejected.json()
    assert rejected.status == 200, body
    assert body["phase"] == "rejected" and "not today" in body["outcome"]
    again = await api.promote("prod", as_="release-manager")
    assert again.status == 202


async def test_a_cancelled_promotion_cannot_be_approved_afterwards(api: Api) -> None:
    promotion = await _awaiting_prod(api)
    cancelled = await api.post(
        f"/promotions/{promotion['id']}/cancel", {"reason": "oops"}, as_="release-manager"
    )
    assert cancelled.status == 200
    assert (await cancelled.json())["phase"] == "cancelled"
    late = await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")
    await problem(late, 409, "invalid-promotion-state")


async def test_one_promotion_at_a_time_names_the_promotion_in_flight(api: Api) -> None:
    promotion = await _awaiting_prod(api)
    second = await api.promote("prod", SHA1, as_="release-manager")
    body = await problem(second, 409, "promotion-in-flight")
    assert body["promotion_id"] == promotion["id"]
    assert promotion["id"] in body["detail"]


async def test_a_release_not_verified_upstream_is_refused_naming_the_rule(api: Api) -> None:
    await api.promote("dev")
    refused = await api.promote("staging")
    body = await problem(refused, 409, "not-verified-upstream")
    assert "dev" in body["detail"]


async def test_an_admin_override_needs_a_reason_and_is_recorded(api: Api) -> None:
    empty = await api.promote("staging", as_="admin", override={"reason": " "})
    await problem(empty, 422, "validation-error")
    forced = await api.promote("staging", as_="admin", override={"reason": "hotfix INC-7"})
    body = await forced.json()
    assert forced.status == 202, body
    assert body["overrides"] == ["pipeline-order"]
    events = await api.promotions.repository.store.read_stream("target:web:staging")
    overridden = [e for e in events if e.type == "Target.PolicyOverridden"]
    assert overridden[0].data["reason"] == "hotfix INC-7"
    assert overridden[0].metadata.actor == "admin"


async def test_only_an_admin_may_override(api: Api) -> None:
    refused = await api.promote("staging", as_="dev", override={"reason": "please"})
    body = await problem(refused, 403, "forbidden")
    assert body["required_role"] == "admin"


async def test_a_freeze_window_refuses_promotions_unless_an_admin_overrides(api: Api) -> None:
    config = {
        "repo": "https://git.example/api.git",
        "environments": [
            {
                "name": "dev",
                "policy": {
                    "freeze": [{"name": "always", "schedule": "* * * * *", "duration": "2m"}]
                },
            }
        ],
    }
    await api.promotions.register_app("frozen", config, metadata=EventMetadata(actor="t"))
    await api.promotions.create_release(
        "frozen",
        sha=SHA1,
        digest="d" * 64,
        message="m",
        author="a",
        committed_at=datetime.now(UTC),
        metadata=EventMetadata(actor="t"),
    )
    body = {"app": "frozen", "environment": "dev", "release": SHA1}
    await problem(await api.post("/promotions", body, as_="dev"), 409, "environment-frozen")
    forced = await api.post(
        "/promotions", {**body, "override": {"reason": "incident"}}, as_="admin"
    )
    assert forced.status == 202
    assert (await forced.json())["overrides"] == ["freeze-window:always"]


async def test_a_rollback_goes_back_to_the_last_verified_release(api: Api) -> None:
    await api.promote("dev", SHA1)
    await api.verify_in("dev", SHA1)
    await api.promote("dev", SHA2)
    await api.verify_in("dev", SHA2)
    response = await api.post(
        "/rollbacks", {"app": "web", "environment": "dev", "reason": "500s"}, as_="dev"
    )
    body = await response.json()
    assert response.status == 202, body
    assert body["kind"] == "rollback" and body["release"] == SHA1
    assert response.headers["Location"].endswith(body["id"])


async def test_a_rollback_with_nothing_verified_before_is_refused(api: Api) -> None:
    await api.promote("dev", SHA1)
    response = await api.post("/rollbacks", {"app": "web", "environment": "dev"}, as_="dev")
    await problem(response, 409, "no-rollback-target")


async def test_a_rollback_to_a_release_never_verified_there_is_refused(api: Api) -> None:
    await api.promote("dev", SHA1)
    await api.verify_in("dev", SHA1)
    response = await api.post(
        "/rollbacks", {"app": "web", "environment": "dev", "release": SHA2}, as_="dev"
    )
    await problem(response, 409, "no-rollback-target")


async def test_an_unknown_app_environment_or_release_is_a_422_naming_the_field(api: Api) -> None:
    cases = [
        ({"app": "nope", "environment": "dev", "release": SHA1}, "app"),
        ({"app": "web", "environment": "qa", "release": SHA1}, "environment"),
        ({"app": "web", "environment": "dev", "release": "abcdef0"}, "release"),
    ]
    for body, field in cases:
        answer = await problem(await api.post("/promotions", body, as_="admin"), 422)
        assert answer["field"] == field, answer


async def test_bodies_are_validated_types_unknown_fields_and_one_source(api: Api) -> None:
    cases: list[tuple[Any, str]] = [
        ({"app": "web", "environment": "dev", "release": SHA1, "extra": 1}, "extra"),
        ({"app": "web", "environment": "dev", "release": 123}, "release"),
        ({"app": "web", "environment": "dev"}, "body"),
        ({"app": "web", "environment": "dev", "release": SHA1, "from_environment": "x"}, "body"),
        ([1, 2], "body"),
    ]
    for body, field in cases:
        answer = await problem(
            await api.post("/promotions", body, as_="dev"), 422, "validation-error"
        )
        assert answer["field"] == field, answer
        assert answer["errors"]
    garbage = await api.post(
        "/promotions", as_="dev", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    await problem(garbage, 400, "invalid-json")


async def test_a_body_over_the_size_limit_is_refused(api: Api) -> None:
    huge = {"app": "web", "environment": "dev", "release": SHA1, "reason": "x" * 100_000}
    await problem(await api.post("/promotions", huge, as_="dev"), 413, "body-too-large")


async def test_an_unknown_promotion_is_404(api: Api) -> None:
    await problem(await api.get("/promotions/nope"), 404)
    await problem(
        await api.post("/promotions/nope/approve", as_="approver"), 404, "unknown-promotion"
    )


async def test_promoting_what_the_target_already_runs_is_refused(api: Api) -> None:
    await api.promote("dev")
    await api.verify_in("dev", SHA1)
    await problem(await api.promote("dev"), 409, "already-desired")


async def test_promoting_from_an_environment_with_nothing_verified_is_refused(api: Api) -> None:
    response = await api.post(
        "/promotions",
        {"app": "web", "environment": "staging", "from_environment": "dev"},
        as_="dev",
    )
    body = await problem(response, 409, "no-verified-release")
    assert body["field"] == "from_environment"


async def test_two_approvals_must_come_from_two_people(api: Api) -> None:
    meta = EventMetadata(actor="t")
    config = {"environments": [{"name": "prod", "policy": {"approvals": 2}}]}
    await api.promotions.register_app("bank", config, metadata=meta)
    await api.promotions.create_release(
        "bank",
        sha=SHA1,
        digest="d" * 64,
        message="m",
        author="a",
        committed_at=datetime.now(UTC),
        metadata=meta,
    )
    created = await api.post(
        "/promotions",
        {"app": "bank", "environment": "prod", "release": SHA1},
        as_="release-manager",
    )
    promotion = await created.json()
    first = await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")
    assert (await first.json())["phase"] == "awaiting_approval"
    twice = await api.post(f"/promotions/{promotion['id']}/approve", as_="approver")
    await problem(twice, 409, "already-approved")
    second = await api.post(f"/promotions/{promotion['id']}/approve", as_="lead")
    assert (await second.json())["phase"] == "started"


def test_an_active_span_wins_over_the_traceparent_header() -> None:
    from aiohttp.test_utils import make_mocked_request
    from opentelemetry.sdk.trace import TracerProvider

    from api.context import trace_context

    request = make_mocked_request(
        "POST", "/api/v1/promotions", headers={"traceparent": TRACEPARENT}
    )
    assert trace_context(request) == (TRACEPARENT, None)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("handler") as span:
        parent, _ = trace_context(request)
    context = span.get_span_context()
    assert parent is not None
    assert parent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")


async def test_promotions_are_listed_by_state_and_found_by_the_start_of_their_id(
    api: Api,
) -> None:
    started = await (await api.promote("dev")).json()
    whole = await api.get("/promotions", params={"id_prefix": started["id"]})
    assert [p["id"] for p in (await whole.json())["items"]] == [started["id"]], "at once"

    await api.caught_up()
    short = await (await api.get("/promotions", params={"id_prefix": started["id"][:6]})).json()
    assert [p["id"] for p in short["items"]] == [started["id"]]
    running = await (await api.get("/promotions", params={"state": "running"})).json()
    assert [p["phase"] for p in running["items"]] == ["started"]
    done = await (await api.get("/promotions", params={"state": "done", "app": "web"})).json()
    assert done["items"] == []

    too_short = await api.get("/promotions", params={"id_prefix": started["id"][:5]})
    assert too_short.status == 422
    assert (await too_short.json())["field"] == "id_prefix"
    nowhere = await api.get("/promotions", params={"id_prefix": "zzzzzz"})
    assert (await nowhere.json())["items"] == []

    # every role reads: an approver names the promotion to approve by its id's start
    named = await api.get("/promotions", params={"id_prefix": started["id"][:6]}, as_="approver")
    assert named.status == 200 and len((await named.json())["items"]) == 1
