"""Fixtures of the API suite: the real application on aiohttp's test server, on this test's
own Postgres database, with one token per role and an app whose pipeline is dev → staging
→ prod (prod needs one approval)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from api.auth import Grant, Role, TokenBook
from api.config import ApiConfig
from api.keys import PROMOTIONS, RUNNER
from engine.domain.enums import Health
from engine.domain.target import Target
from engine.promotions import Promotions
from engine.settings import Settings
from engine.store import EventMetadata

SHA1, SHA2, SHA3 = "1" * 40, "2" * 40, "3" * 40
WEBHOOK_SECRET = "hook-secret-for-tests"
CONFIG: dict[str, Any] = {
    "repo": "https://git.example/web.git",
    "branch": "main",
    "environments": [
        {"name": "dev"},
        {"name": "staging"},
        {"name": "prod", "policy": {"approvals": 1}},
    ],
}
# subject → roles; the token of each is "<subject>-token"
PEOPLE: dict[str, list[Grant]] = {
    "viewer": [Grant(role=Role.VIEWER)],
    "dev": [Grant(role=Role.PROMOTER, environments=frozenset({"dev", "staging"}))],
    "release-manager": [Grant(role=Role.PROMOTER, environments=frozenset({"prod"}))],
    "approver": [Grant(role=Role.APPROVER, environments=frozenset({"staging", "prod"}))],
    "lead": [
        Grant(role=Role.APPROVER, environments=frozenset({"prod"})),
        Grant(role=Role.PROMOTER, environments=frozenset({"prod"})),
    ],
    "admin": [Grant(role=Role.ADMIN)],
}


def token_of(subject: str) -> str:
    """The bearer token of a test subject."""
    return f"{subject}-token"


def api_config(**changes: Any) -> ApiConfig:
    """The config every API test starts from."""
    book = TokenBook()
    for subject, grants in PEOPLE.items():
        book.add_token(token=token_of(subject), subject=subject, grants=grants)
    config = ApiConfig(tokens=book, webhook_secret=WEBHOOK_SECRET, ready_max_lag=1000)
    return replace(config, **changes)


@dataclass
class Api:
    """The test client, with the caller's token added to every request."""

    client: TestClient

    @property
    def promotions(self) -> Promotions:
        return self.client.app[PROMOTIONS]  # type: ignore[index]

    def _headers(self, subject: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if subject is not None:
            headers["Authorization"] = f"Bearer {token_of(subject)}"
        return headers

    async def get(
        self,
        path: str,
        *,
        as_: str | None = "viewer",
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> ClientResponse:
        return await self.client.get(f"/api/v1{path}", headers=self._headers(as_, headers), **kw)

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        as_: str | None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> ClientResponse:
        if body is not None:
            kw["json"] = body
        return await self.client.post(f"/api/v1{path}", headers=self._headers(as_, headers), **kw)

    async def promote(
        self,
        env: str,
        release: str = SHA1,
        *,
        as_: str = "dev",
        headers: dict[str, str] | None = None,
        **body: Any,
    ) -> ClientResponse:
        return await self.post(
            "/promotions",
            {"app": "web", "environment": env, "release": release, **body},
            as_=as_,
            headers=headers,
        )

    async def caught_up(self) -> None:
        """Wait until the read models have applied the whole log."""
        runner = self.client.app[RUNNER]  # type: ignore[index]
        head = await self.promotions.repository.store.head_position()
        async with asyncio.timeout(10):
            await runner.wait_for(head)

    async def verify_in(self, env: str, sha: str) -> None:
        """Play the applier: the release synced, is healthy, and is verified."""
        repo = self.promotions.repository
        target = await repo.get(Target, f"target:web:{env}")
        now = datetime.now(UTC)
        target.record_sync(sync_id=f"sync-{env}-{sha[:4]}", release=sha, now=now)
        target.record_health(health=Health.HEALTHY, reasons=[], now=now)
        assert target.verify(soak_seconds=0, now=now)
        await repo.save(target, metadata=EventMetadata(actor="applier"))


async def seed(promotions: Promotions) -> None:
    """The app `web` with three releases."""
    await promotions.register_app("web", CONFIG, metadata=EventMetadata(actor="git-watcher"))
    await seed_releases(promotions, (SHA1, SHA2, SHA3))


async def seed_releases(promotions: Promotions, shas: tuple[str, ...]) -> None:
    """Releases of the registered app `web`, numbered in order."""
    meta = EventMetadata(actor="git-watcher")
    for number, sha in enumerate(shas, start=1):
        await promotions.create_release(
            "web",
            sha=sha,
            digest="d" * 64,
            message=f"change {number}",
            author="dev",
            committed_at=datetime(2026, 11, 1, number, tzinfo=UTC),
            metadata=meta,
        )


@pytest.fixture
def config() -> ApiConfig:
    """The API configuration of a test (override the fixture to change it)."""
    return api_config()


@pytest.fixture
async def api(database_url: str, config: ApiConfig, tmp_path: Path) -> AsyncIterator[Api]:
    """The running API with the `web` app registered."""
    settings = Settings(
        database_url=database_url,
        home=tmp_path / "home",
        environments_dir=tmp_path / "environments",
    )
    app = init_app(settings=settings, config=config)
    async with TestClient(TestServer(app)) as client:
        api = Api(client)
        await seed(api.promotions)
        yield api


async def problem(response: ClientResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert a problem+json answer; return it."""
    body = await response.json(content_type=None)
    assert response.status == status, body
    assert response.content_type == "application/problem+json", response.content_type
    if code is not None:
        assert body["type"] == f"urn:baton:problem:{code}", body
    return body  # type: ignore[no-any-return]
