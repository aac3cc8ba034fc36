"""The engine's promotion overhead: `POST /promotions` until the first apply reaches kubesim.

baton runs in this process the way `baton serve` runs it (`baton.service.serve.running`: the API,
projections, Git watcher, appliers and promoter, with the built-in kubesim) on a fresh
database. `apps` apps share one Git repository with two releases; each app has one
environment, dev, that needs no approval. Promotions go round-robin over the apps,
alternating the two releases; an app is promoted again once its previous promotion is
verified (one promotion in flight per target), so earlier rollouts may still be running
while a promotion is measured, as in a busy pipeline.

The clock starts just before the POST is sent and stops when kubesim's request observer
sees the first server-side apply for the target's namespace; the harness awaits a future
the observer resolves, so it adds no polling of its own. A promotion is "cold" when its
target has not applied that release before (the applier rendered it when it was created,
but has not read it into its caches yet).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from api.auth import TokenBook
from api.config import ApiConfig
from baton.service.serve import Running, ServeOptions, running
from engine.git.sample import SampleRepo, create_sample_repo
from engine.settings import Settings
from kubesim import Arrival

APPLY_TIMEOUT = 30.0  # seconds: a promotion whose apply never comes fails the run
SETTLE_TIMEOUT = 60.0
CLUSTER = "dev"


def _config(apps: list[str], repo: Path) -> str:
    entries = "".join(
        f"  - name: {app}\n    repo: {repo}\n    branch: main\n    path: deploy\n"
        f"    pipeline:\n      - name: {CLUSTER}\n        cluster: kubesim:{CLUSTER}\n"
        "        policy: {approvals: 0}\n"
        for app in apps
    )
    return "apps:\n" + entries


@dataclass
class FirstApply:
    """Resolves a future when the first server-side apply for one namespace arrives."""

    namespace: str = ""
    arrived: asyncio.Future[float] | None = None

    def expect(self, namespace: str) -> asyncio.Future[float]:
        self.namespace = namespace
        self.arrived = asyncio.get_running_loop().create_future()
        return self.arrived

    def __call__(self, arrival: Arrival) -> None:
        if self.arrived is None or self.arrived.done():
            return
        if arrival.is_apply and arrival.concerns(self.namespace):
            self.arrived.set_result(time.perf_counter())


@dataclass
class Harness:
    """The running baton, its API session, and what has been promoted where."""

    state: Running
    session: aiohttp.ClientSession
    first_apply: FirstApply
    applied: set[tuple[str, str]] = field(default_factory=set)  # (app, release) done

    async def settled(self, app: str, release: str) -> None:
        """Wait (unmeasured) until `release` is verified in `app`'s dev, nothing in flight."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            env = await self._dev(app)
            if env["last_verified_release"] == release and env["in_flight"] is None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app}/dev did not verify {release[:12]}: {env}")
            await asyncio.sleep(0.05)

    async def _dev(self, app: str) -> dict[str, Any]:
        async with self.session.get(f"{self.state.url}/api/v1/apps/{app}") as response:
            body: dict[str, Any] = await response.json()
        return next(e for e in body["environments"] if e["environment"] == CLUSTER)

    async def promote(self, app: str, release: str) -> float:
        """One measured promotion: milliseconds from the POST to the first apply."""
        arrived = self.first_apply.expect(f"{app}-{CLUSTER}")
        body = {"app": app, "environment": CLUSTER, "release": release, "reason": "bench"}
        started = time.perf_counter()
        async with self.session.post(f"{self.state.url}/api/v1/promotions", json=body) as r:
            answer = await r.json()
        if r.status != 202 or answer.get("phase") != "started":
            raise RuntimeError(f"promotion of {release[:12]} to {app}: {r.status} {answer}")
        try:
            at = await asyncio.wait_for(arrived, APPLY_TIMEOUT)
        except TimeoutError:
            raise RuntimeError(
                f"no apply for {app}-{CLUSTER} within {APPLY_TIMEOUT:.0f}s of promoting "
                f"{release[:12]}"
            ) from None
        return (at - started) * 1000


async def _releases(
    state: Running, repo: SampleRepo, apps: list[str], first: str
) -> tuple[str, str]:
    """Two releases of every app, `first` committed already. On first sight of an app the
    watcher makes a release of its newest commit only, so the second commit comes after
    every app's first poll."""
    assert state.watcher is not None
    for app in apps:
        await state.watcher.poll(app)
    second = await asyncio.to_thread(repo.release, "1.1.0", "two", "release two")
    for app in apps:
        result = await state.watcher.poll(app)
        if second not in result.released:
            raise RuntimeError(f"the watcher did not release {second[:12]} of {app}: {result}")
    return first, second


async def measure(url: str, token: str, *, apps: int, count: int) -> dict[str, list[float]]:
    """`count` promotions over `apps` apps; milliseconds each, split cold and warm."""
    names = [f"promo-{i:02d}" for i in range(apps)]
    with tempfile.TemporaryDirectory(prefix="baton-promotion-") as tmp:
        root = Path(tmp)
        repo = await asyncio.to_thread(create_sample_repo, root / "git")
        first = await asyncio.to_thread(repo.release, "1.0.0", "one", "release one")
        (root / "environments").mkdir()
        (root / "environments" / "bench.yaml").write_text(_config(names, repo.remote))
        book = TokenBook()
        book.load_text(f"bench:admin:{token}")
        settings = Settings(
            database_url=url, home=root / "home", environments_dir=root / "environments"
        )
        options = ServeOptions(port=0, api=ApiConfig(tokens=book))
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            running(options, settings=settings) as state,
            aiohttp.ClientSession(headers=headers) as session,
        ):
            assert state.sim is not None
            releases = await _releases(state, repo, names, first)
            harness = Harness(state, session, FirstApply())
            stop = state.sim.cluster(CLUSTER).observers.add(harness.first_apply)
            out: dict[str, list[float]] = {"cold": [], "warm": []}
            last: dict[str, str] = {}
            try:
                for index in range(count):
                    app = names[index % apps]
                    release = releases[(index // apps) % 2]
                    if app in last:
                        await harness.settled(app, last[app])
                    kind = "warm" if (app, release) in harness.applied else "cold"
                    out[kind].append(await harness.promote(app, release))
                    harness.applied.add((app, release))
                    last[app] = release
            finally:
                stop()
    return out
