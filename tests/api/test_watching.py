"""A push webhook makes the Git watcher poll at once: in the API process (`--watch`) or in
another process on the same database (`--role worker`, a second API process)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from api.config import ApiConfig
from api.keys import DATABASE, PROMOTIONS
from baton.service.serve import Role, ServeOptions, running
from engine.domain.app import App
from engine.git.wakeups import POLL_CHANNEL
from engine.settings import Settings
from engine.store.listen import listening
from kubesim import ControllerTiming
from tests.api.conftest import WEBHOOK_SECRET, api_config
from tests.git.gitrepos import Upstream, deployment


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    repo = Upstream(tmp_path / "upstream" / "shop")
    repo.commit({"deploy/web.yaml": deployment("web")}, "initial")
    return repo


@pytest.fixture
def settings(database_url: str, tmp_path: Path, upstream: Upstream) -> Settings:
    """One app, `shop`, polled hourly: only a wake-up explains a poll within a test."""
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
    return Settings(
        database_url=database_url, home=tmp_path / "home", environments_dir=environments
    )


def _served(settings: Settings, config: ApiConfig) -> AbstractAsyncContextManager[TestClient]:
    return TestClient(TestServer(init_app(settings=settings, config=config)))


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    """An API process that runs the watcher itself (`--watch`)."""
    async with _served(settings, replace(api_config(), watch_git=True)) as client:
        yield client


@contextlib.asynccontextmanager
async def _worker(settings: Settings) -> AsyncIterator[None]:
    """`baton serve --role worker`: the watcher, the appliers, no HTTP."""
    options = ServeOptions(role=Role.WORKER, kubesim_timing=ControllerTiming.fast())
    async with running(options, settings=settings) as state:
        assert state.watcher is not None and state.url is None
        yield


@contextlib.asynccontextmanager
async def _watching_api(settings: Settings) -> AsyncIterator[None]:
    """An API process with `--watch`, beside the one that receives the webhook."""
    async with _served(settings, replace(api_config(), watch_git=True)):
        yield


WATCHER_ELSEWHERE: dict[str, Callable[[Settings], AbstractAsyncContextManager[None]]] = {
    "worker": _worker,
    "api-with-watch": _watching_api,
}


@pytest.fixture(params=sorted(WATCHER_ELSEWHERE))
async def api_only(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[TestClient]:
    """An API process without a watcher, while another process on its database runs one."""
    async with WATCHER_ELSEWHERE[request.param](settings):
        # one projection runner is enough: the watcher side's, if any
        config = replace(api_config(), run_projections=False)
        async with _served(settings, config) as client:
            yield client


async def _releases(client: TestClient, count: int) -> list[str]:
    promotions = client.app[PROMOTIONS]  # type: ignore[index]
    async with asyncio.timeout(20):
        while True:
            app = await promotions.repository.find(App, "app:shop")
            if app is not None and len(app.releases) >= count:
                return list(app.releases)
            await asyncio.sleep(0.05)


async def _gitlab_push(client: TestClient, url: str, branch: str = "main") -> ClientResponse:
    body = {"object_kind": "push", "ref": f"refs/heads/{branch}", "project": {"git_http_url": url}}
    headers = {"X-Gitlab-Token": WEBHOOK_SECRET, "X-Gitlab-Event": "Push Hook"}
    return await client.post("/api/v1/webhooks/git", json=body, headers=headers)


async def _github_push(client: TestClient, url: str) -> ClientResponse:
    body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": url}}).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
    }
    return await client.post("/api/v1/webhooks/git", data=body, headers=headers)


async def _triggered(response: ClientResponse) -> Any:
    body = await response.json()
    assert response.status == 202, body
    return body["triggered"]


async def test_a_push_webhook_makes_the_watcher_poll_at_once(
    client: TestClient, upstream: Upstream
) -> None:
    await _releases(client, 1)  # the watcher's first poll, at start
    sha = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")}, "bump")
    assert await _triggered(await _gitlab_push(client, upstream.url)) == ["shop"]
    assert sha in await _releases(client, 2)  # long before the hourly poll


async def test_a_push_to_an_api_process_wakes_the_watcher_running_elsewhere(
    api_only: TestClient, upstream: Upstream
) -> None:
    await _releases(api_only, 1)  # the other process's watcher, first poll at start
    sha = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")}, "bump")
    assert await _triggered(await _github_push(api_only, upstream.url)) == ["shop"]
    assert sha in await _releases(api_only, 2)  # long before the hourly poll


async def test_a_push_no_app_uses_wakes_nothing_and_the_next_push_still_does(
    api_only: TestClient, upstream: Upstream, tmp_path: Path
) -> None:
    await _releases(api_only, 1)
    sha = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")}, "bump")
    published: asyncio.Queue[str] = asyncio.Queue()
    pool = api_only.app[DATABASE].store.pool  # type: ignore[index]
    async with listening(pool, POLL_CHANNEL, published.put_nowait):
        other = Upstream(tmp_path / "upstream" / "billing")
        assert await _triggered(await _gitlab_push(api_only, other.url)) == []
        assert await _triggered(await _gitlab_push(api_only, upstream.url, "feature")) == []
        assert await _triggered(await _gitlab_push(api_only, upstream.url)) == ["shop"]
        async with asyncio.timeout(10):
            # notifications arrive in the order sent: anything from the first two comes first
            assert await published.get() == "shop"
    assert sha in await _releases(api_only, 2)
