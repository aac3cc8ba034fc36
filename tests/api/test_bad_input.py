"""Bad input is a 4xx problem naming what is wrong, never a 5xx: bodies nested too deep,
text the log cannot store, bodies that are not UTF-8, too large or not JSON, unknown query
parameters and page sizes out of range."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from api.bodies import MAX_DEPTH
from api.config import MAX_BODY_BYTES
from tests.api.conftest import SHA1, WEBHOOK_SECRET, Api, problem

JSON = {"Content-Type": "application/json"}


async def _events(api: Api) -> int:
    return await api.promotions.repository.store.head_position()


@pytest.mark.parametrize(
    ("depth", "closed"),
    [(60_000, False), (20_000, True)],  # closing 60,000 levels would pass the 64 KiB limit
)
async def test_a_body_nested_thousands_deep_is_a_fast_400_naming_the_limit(
    api: Api, depth: int, closed: bool
) -> None:
    before = await _events(api)
    value = b"[" * depth + (b"]" * depth if closed else b"")
    deep = b'{"app": "web", "environment": "dev", "reason": ' + value + b"}"
    started = time.monotonic()
    response = await api.post("/promotions", as_="dev", data=deep, headers=JSON)
    body = await problem(response, 400, "too-deeply-nested")
    assert time.monotonic() - started < 2
    assert body["field"] == "body"
    assert body["max_depth"] == MAX_DEPTH == 32
    assert f"nest {depth + 1} levels deep; the limit is 32" in body["detail"]
    assert await _events(api) == before


async def test_the_depth_limit_holds_on_the_webhook_too(api: Api) -> None:
    raw = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    digest = hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {**JSON, "X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}
    response = await api.post("/webhooks/git", as_=None, data=raw, headers=headers)
    await problem(response, 400, "too-deeply-nested")


async def test_nesting_up_to_the_limit_is_read_and_judged_on_its_fields(api: Api) -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    raw = f'{{"app": "web", "environment": "dev", "release": "{SHA1}", "reason": {nested}}}'
    response = await api.post("/promotions", as_="dev", data=raw.encode(), headers=JSON)
    body = await problem(response, 422, "validation-error")
    assert body["field"] == "reason"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "ship\u0000it"}, "reason"),
        ({"reason": "\ud800"}, "reason"),
        ({"override": {"reason": "frozen, but\u0000"}}, "override.reason"),
    ],
)
async def test_text_postgres_cannot_store_is_a_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    before = await _events(api)
    sent = {"app": "web", "environment": "dev", "release": SHA1, **body}
    # json.dumps escapes both as \u0000 and \ud800, as any JSON client would send them
    response = await api.post("/promotions", sent, as_="dev")
    found = await problem(response, 422, "validation-error")
    assert found["field"] == field
    assert found["errors"][0]["field"] == field
    assert await _events(api) == before


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [("approve", {"comment": "ok\u0000"}, "comment"), ("reject", {"reason": "\udfff"}, "reason")],
)
async def test_a_decision_holding_unstorable_text_is_refused_and_not_stored(
    api: Api, verb: str, body: dict[str, str], field: str
) -> None:
    for env in ("dev", "staging"):
        await api.promote(env)
        await api.verify_in(env, SHA1)
    awaiting = await (await api.promote("prod", as_="release-manager")).json()
    before = await _events(api)
    response = await api.post(f"/promotions/{awaiting['id']}/{verb}", body, as_="approver")
    assert (await problem(response, 422, "validation-error"))["field"] == field
    assert await _events(api) == before


async def test_a_body_that_is_not_utf8_is_a_400(api: Api) -> None:
    raw = b'{"app": "web", "environment": "dev", "reason": "caf\xe9"}'
    response = await api.post("/promotions", as_="dev", data=raw, headers=JSON)
    body = await problem(response, 400, "invalid-utf8")
    assert body["field"] == "body"
    assert "byte 51 (0xe9)" in body["detail"]


async def test_a_body_over_the_limit_is_a_413_problem(api: Api) -> None:
    raw = json.dumps({"app": "web", "reason": "x" * MAX_BODY_BYTES}).encode()
    response = await api.post("/promotions", as_="dev", data=raw, headers=JSON)
    await problem(response, 413, "body-too-large")


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "application/xml"]
)
async def test_a_body_that_is_not_json_is_a_415_naming_content_type(
    api: Api, content_type: str
) -> None:
    raw = json.dumps({"app": "web", "environment": "dev", "release": SHA1}).encode()
    response = await api.post(
        "/promotions", as_="dev", data=raw, headers={"Content-Type": content_type}
    )
    body = await problem(response, 415, "unsupported-media-type")
    assert body["field"] == "Content-Type"
    assert content_type in body["detail"]


@pytest.mark.parametrize(
    ("path", "as_"),
    [
        ("/apps?colour=blue", "viewer"),
        ("/events?limit=5&colour=blue", "viewer"),
        ("/state/diff?from=1&colour=blue", "viewer"),
        ("/healthz?colour=blue", None),
    ],
)
async def test_an_unknown_query_parameter_is_a_400_naming_it(
    api: Api, path: str, as_: str | None
) -> None:
    response = await api.get(path, as_=as_)
    body = await problem(response, 400, "unknown-parameter")
    assert body["field"] == "colour"


async def test_an_unknown_query_parameter_on_a_write_is_refused_before_it_runs(api: Api) -> None:
    before = await _events(api)
    response = await api.post("/promotions?dry_run=1", {"app": "web"}, as_="dev")
    assert (await problem(response, 400, "unknown-parameter"))["field"] == "dry_run"
    assert await _events(api) == before


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "²", "9" * 5000, ""])
async def test_a_page_size_out_of_range_is_a_422_naming_limit(api: Api, limit: str) -> None:
    response = await api.get("/events", params={"limit": limit})
    body = await problem(response, 422, "validation-error")
    assert body["field"] == "limit"


@pytest.mark.parametrize("value", ["²", "9" * 5000])
async def test_a_position_in_odd_digits_is_a_422_naming_it(api: Api, value: str) -> None:
    response = await api.get("/state", params={"as_of": value})
    assert (await problem(response, 422, "validation-error"))["field"] == "as_of"
