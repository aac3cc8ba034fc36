"""Health, readiness, the audit chain check and the Git webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import pytest

from api.config import ApiConfig
from api.gitpoll import normalise
from tests.api.conftest import WEBHOOK_SECRET, Api, api_config, problem

PUSH = {
    "ref": "refs/heads/main",
    "repository": {"clone_url": "https://git.example/web.git", "full_name": "x/web"},
}
GITLAB_PUSH = {
    "ref": "refs/heads/main",
    "object_kind": "push",
    "project": {"git_http_url": "https://git.example/web.git"},
}
polled: list[tuple[tuple[str, ...], str | None]] = []


async def _poll_now(urls: Sequence[str], branch: str | None) -> list[str]:
    polled.append((tuple(urls), branch))
    return ["web"] if "https://git.example/web.git" in urls else []


@pytest.fixture
def config(request: pytest.FixtureRequest) -> ApiConfig:
    """A watcher's poll trigger, except for the test that runs without one."""
    polled.clear()
    watcher = None if "without_a_watcher" in request.node.name else _poll_now
    return replace(api_config(), poll_now=watcher)


def _signed(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
    }


async def test_healthz_and_readyz_report_ok(api: Api) -> None:
    alive = await (await api.get("/healthz", as_=None)).json()
    assert alive == {"status": "ok", "version": metadata.version("baton")}
    ready = await api.get("/readyz", as_=None)
    body = await ready.json()
    assert ready.status == 200, body
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["pending"] == []


async def test_audit_verify_reports_the_intact_chain(api: Api) -> None:
    await api.promote("dev")
    body = await (await api.get("/audit/verify")).json()
    head = await api.promotions.repository.store.head_position()
    assert body.pop("verified_at")  # the run is recorded (the console shows the latest)
    assert body == {
        "ok": True,
        "checked": head,
        "head_position": head,
        "broken_at": None,
        "reason": None,
        "verified_to": head,
    }


async def test_a_signed_github_push_triggers_a_poll_of_its_app(api: Api) -> None:
    raw = json.dumps(PUSH).encode()
    response = await api.post("/webhooks/git", as_=None, data=raw, headers=_signed(raw))
    assert response.status == 202
    assert await response.json() == {"triggered": ["web"], "branch": "main"}
    assert polled == [(("https://git.example/web.git",), "main")]


async def test_a_gitlab_push_with_the_token_triggers_a_poll(api: Api) -> None:
    response = await api.post(
        "/webhooks/git",
        GITLAB_PUSH,
        as_=None,
        headers={"X-Gitlab-Token": WEBHOOK_SECRET, "X-Gitlab-Event": "Push Hook"},
    )
    assert response.status == 202
    assert (await response.json())["triggered"] == ["web"]


async def test_a_bad_or_missing_signature_is_refused_and_triggers_nothing(api: Api) -> None:
    raw = json.dumps(PUSH).encode()
    for headers in (_signed(raw, "wrong-secret"), {"X-Gitlab-Token": "wrong"}, {}):
        response = await api.post("/webhooks/git", as_=None, data=raw, headers=headers)
        await problem(response, 401, "bad-signature")
    assert polled == []


async def test_without_a_watcher_the_webhook_answers_with_nothing_triggered(
    api: Api,
) -> None:
    raw = json.dumps(PUSH).encode()
    response = await api.post("/webhooks/git", as_=None, data=raw, headers=_signed(raw))
    assert response.status == 202
    assert (await response.json())["triggered"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/web.git",
        "https://GitHub.com/org/web",
        "git@github.com:org/web.git",
        "ssh://git@github.com/org/web.git",
        "https://user:pw@github.com/org/web/",
    ],
)
def test_the_forms_of_one_repository_url_compare_equal(url: str) -> None:
    assert normalise(url) == "github.com/org/web"


async def test_readyz_is_503_while_the_read_models_are_missing(
    database_url: str, tmp_path: Path
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from api.app import init_app
    from engine.settings import Settings

    settings = Settings(database_url=database_url, home=tmp_path, environments_dir=tmp_path)
    app = init_app(settings=settings, config=replace(api_config(), run_projections=False))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/v1/readyz")
        body = await response.json()
    assert response.status == 503
    assert body["checks"]["database"]["ok"] and not body["checks"]["projections"]["ok"]
