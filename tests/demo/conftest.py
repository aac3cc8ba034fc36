"""A running baton for the CLI and README tests: Git repo, kubesim, API, appliers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.auth import TokenBook
from api.config import ApiConfig
from baton.client import Client
from baton.service.serve import ServeOptions, running
from engine.git.sample import create_sample_repo
from engine.settings import Settings
from kubesim import ControllerTiming
from tests.demo.live_server import CONFIG, TOKENS, Live


@pytest.fixture
async def live(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Live]:
    repo = await asyncio.to_thread(create_sample_repo, tmp_path / "git")
    sha = await asyncio.to_thread(repo.release, "1.0.0", "hello", "shop 1.0.0")
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "shop.yaml").write_text(CONFIG.format(repo=repo.remote))
    for name, value in (("BATON_DRIFT_INTERVAL", "5s"), ("BATON_HEALTH_INTERVAL", "0.2s")):
        monkeypatch.setenv(name, value)
    book = TokenBook()
    book.load_text(f"alice:promoter+viewer:{TOKENS['alice']};bob:approver+viewer:{TOKENS['bob']}")
    settings = Settings(
        database_url=database_url, home=tmp_path / "home", environments_dir=environments
    )
    options = ServeOptions(
        port=0, kubesim_timing=ControllerTiming.fast(), api=ApiConfig(tokens=book)
    )
    async with running(options, settings=settings) as state:
        assert state.url is not None
        async with Client(state.url, TOKENS["alice"]) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                app = await client.get("/apps/shop")
                dev = app["environments"][0]
                if dev["last_verified_release"] == sha and dev["in_flight"] is None:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"dev never verified the first release: {dev}")
        yield Live(state=state, url=state.url, release=sha)
