"""`baton serve --watch`: the Git watcher runs in the API process and a push polls at once."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from api.keys import PROMOTIONS
from engine.domain.app import App
from engine.settings import Settings
from tests.api.conftest import WEBHOOK_SECRET, api_config
from tests.git.gitrepos import Upstream, deployment


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    repo = Upstream(tmp_path / "upstream" / "shop")
    repo.commit({"deploy/web.yaml": deployment("web")}, "initial")
    return repo


@pytest.fixture
async def client(
    database_url: str, tmp_path: Path, upstream: Upstream
) -> AsyncIterator[TestClient]:
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "shop.yaml").write_text(
        textwrap.dedent(f"""\
        apps:
          - name: shop
            repo: {upstream.url}
            branch: main
            path: deploy
            poll_interval: 1h
            pipeline:
              - name: dev
                cluster: kubesim:dev
        """)
    )
    settings = Settings(
        database_url=database_url, home=tmp_path / "home", environments_dir=environments
    )
    app = init_app(settings=settings, config=replace(api_config(), watch_git=True))
    async with TestClient(TestServer(app)) as client:
        yield client


async def _releases(client: TestClient, count: int) -> list[str]:
    promotions = client.app[PROMOTIONS]  # type: ignore[index]
    async with asyncio.timeout(20):
        while True:
            app = await promotions.repository.find(App, "app:shop")
            if app is not None and len(app.releases) >= count:
                return list(app.releases)
            await asyncio.sleep(0.05)


async def test_a_push_webhook_makes_the_watcher_poll_at_once(
    client: TestClient, upstream: Upstream
) -> None:
    await _releases(client, 1)  # the watcher's first poll, at start
    sha = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")}, "bump")
    response = await client.post(
        "/api/v1/webhooks/git",
        json={
            "object_kind": "push",
            "ref": "refs/heads/main",
            "project": {"git_http_url": upstream.url},
        },
        headers={"X-Gitlab-Token": WEBHOOK_SECRET, "X-Gitlab-Event": "Push Hook"},
    )
    assert response.status == 202
    assert (await response.json())["triggered"] == ["shop"]
    assert sha in await _releases(client, 2)  # long before the hourly poll
