"""What the CLI, README and console tests share: the tokens, the config, a running baton."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.auth import TokenBook
from api.config import ApiConfig
from baton.client import Client
from baton.service.serve import Running, ServeOptions, running
from engine.git.sample import SampleRepo, create_sample_repo
from engine.settings import Settings
from kubesim import ControllerTiming

TOKENS = {
    "alice": "alice-token-123456",
    "bob": "bob-token-123456",
    "carol": "carol-token-123456",
    "dana": "dana-token-1234567",
}
#: alice promotes, bob approves, carol only reads, dana administers
ROLES = {"alice": "promoter+viewer", "bob": "approver+viewer", "carol": "viewer", "dana": "admin"}
#: one app of the environments file: dev promotes by itself, staging needs an approval
APP = """\
  - name: {name}
    repo: {repo}
    branch: {branch}
    path: deploy
    pipeline:
      - name: dev
        cluster: kubesim:dev
        policy: {{auto_promote: true}}
      - name: staging
        cluster: kubesim:staging
        policy: {{approvals: 1}}
      - name: prod
        cluster: kubesim:prod
"""


@dataclass
class Live:
    """A served baton and what a user needs to talk to it."""

    state: Running
    url: str
    release: str
    #: app → the clone to commit to for a release of that app
    repos: dict[str, SampleRepo]


@contextlib.asynccontextmanager
async def serving(
    database_url: str,
    folder: Path,
    apps: tuple[str, ...] = ("shop",),
    *,
    own_branches: bool = False,
) -> AsyncIterator[Live]:
    """baton serving `apps` (one Git repository, three kubesim clusters), once dev has
    verified the first release of each. `own_branches`: each app follows a branch named
    after it (all at the first release), so a release of one app is no other's."""
    repo = await asyncio.to_thread(create_sample_repo, folder / "git")
    sha = await asyncio.to_thread(repo.release, "1.0.0", "hello", "shop 1.0.0")
    repos = {name: repo for name in apps}
    if own_branches:
        for name in apps:
            repos[name] = await asyncio.to_thread(repo.on_branch, name)
    environments = folder / "environments"
    environments.mkdir()
    blocks = "".join(
        APP.format(name=name, repo=repo.remote, branch=repos[name].branch) for name in apps
    )
    (environments / "apps.yaml").write_text("apps:\n" + blocks)
    book = TokenBook()
    book.load_text(";".join(f"{who}:{ROLES[who]}:{token}" for who, token in TOKENS.items()))
    settings = Settings(
        database_url=database_url, home=folder / "home", environments_dir=environments
    )
    options = ServeOptions(
        port=0, kubesim_timing=ControllerTiming.fast(), api=ApiConfig(tokens=book)
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BATON_DRIFT_INTERVAL", "5s")
        env.setenv("BATON_HEALTH_INTERVAL", "0.2s")
        async with running(options, settings=settings) as state:
            assert state.url is not None
            async with Client(state.url, TOKENS["alice"]) as client:
                for name in apps:
                    await _dev_verified(client, name, sha)
            yield Live(state=state, url=state.url, release=sha, repos=repos)


async def release_verified_in_dev(live: Live, app: str, version: str, greeting: str) -> str:
    """A new release of `app` ("<app> <version>", its greeting changed), once dev verified it."""
    sha = await asyncio.to_thread(live.repos[app].release, version, greeting, f"{app} {version}")
    assert live.state.watcher is not None
    await live.state.watcher.poll(app)
    async with Client(live.url, TOKENS["carol"]) as client:
        await _dev_verified(client, app, sha)
    return sha


async def _dev_verified(client: Client, app: str, sha: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dev = (await client.get(f"/apps/{app}"))["environments"][0]
        if dev["last_verified_release"] == sha and dev["in_flight"] is None:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"dev never verified the first release of {app}: {dev}")


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """baton serving the app `shop`, its first release verified in dev."""
    async with serving(database_url, tmp_path) as found:
        yield found
