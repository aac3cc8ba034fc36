"""POST /health/explain: the console's view of why each object has its health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from api.config import ApiConfig
from engine.settings import Settings
from tests.api.conftest import Api, problem

GADGET_CHECK = """\
health:
  checks:
    example.com/Gadget: |
      local hs = {status = "Progressing", message = "warming up"}
      if obj.status ~= nil and obj.status.warm then
        hs.status = "Healthy"
        hs.message = "warm"
      end
      return hs
"""
GADGET = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
PAUSED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"replicas": 2, "paused": True},
}


@pytest.fixture
async def checked_api(database_url: str, config: ApiConfig, tmp_path: Path) -> AsyncIterator[Api]:
    """The API, started with an environments config that holds a user's health check."""
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "health.yaml").write_text(GADGET_CHECK)
    settings = Settings(
        database_url=database_url, home=tmp_path / "home", environments_dir=environments
    )
    async with TestClient(TestServer(init_app(settings=settings, config=config))) as client:
        yield Api(client)


async def explain(api: Api, objects: list[Any], as_: str = "viewer") -> list[dict[str, str]]:
    response = await api.post("/health/explain", {"objects": objects}, as_=as_)
    body = await response.json()
    assert response.status == 200, body
    return body["items"]  # type: ignore[no-any-return]


async def test_explain_names_the_verdict_message_and_rule_of_each_object(
    checked_api: Api, tmp_path: Path
) -> None:
    rows = await explain(checked_api, [PAUSED, GADGET, {**GADGET, "status": {"warm": True}}])
    script = f"{tmp_path / 'environments' / 'health.yaml'}:health.checks[example.com/Gadget]"
    assert rows == [
        {
            "api_version": "apps/v1",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
            "status": "Suspended",
            "message": "deployment is paused",
            "rule": "built-in deployment",
        },
        {**rows[1], "status": "Progressing", "message": "warming up", "rule": script},
        {**rows[2], "status": "Healthy", "message": "warm", "rule": script},
    ]


async def test_explain_without_user_checks_uses_the_built_in_rules(api: Api) -> None:
    (row,) = await explain(api, [GADGET])
    assert (row["status"], row["message"], row["rule"]) == ("Healthy", "exists", "generic")


async def test_explain_needs_a_token_and_objects(api: Api) -> None:
    await problem(await api.post("/health/explain", {"objects": [GADGET]}, as_=None), 401)
    body = await problem(await api.post("/health/explain", {"objects": [1]}, as_="viewer"), 422)
    assert body["field"] == "objects.0"
