"""Benchmark of the appliers: 1,000 apps × 3 environments × 4 objects on kubesim.

Measures, on one machine: the raw rate of server-side apply calls to kubesim (the
ceiling, as ``bench/kubesim.py`` measures it, in the same run), the time for the
appliers to first converge every target from an empty cluster (synced, and healthy and
verified), and the time of one drift-check sweep when nothing changed (with the writes
it made: none expected). kubesim runs in its own process; Postgres is embedded unless
BATON_DATABASE_URL is set. Releases are rendered in memory (the Git side has its own
benchmark). Prints a table, then one JSON line with the figures as the last line.

Anchors: Flux's published benchmark converges 1,000 Kustomizations in 4 min 16 s;
Argo CD polls every 3 min. Targets: first converge ≥ 50 % of the raw apply ceiling;
a no-change sweep of 12,000 objects under 10 s without a write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import Server  # noqa: E402
from engine.appliers.context import ApplierSettings  # noqa: E402
from engine.appliers.inprocess import running_appliers  # noqa: E402
from engine.config.loader import EnvironmentsConfig  # noqa: E402
from engine.domain.pipeline import AppSpec, EnvironmentSpec  # noqa: E402
from engine.domain.policy import Policy  # noqa: E402
from engine.domain.promotion import Override  # noqa: E402
from engine.promotions import Promotions  # noqa: E402
from engine.render import Rendered, RenderedObject  # noqa: E402
from engine.render.objects import finish  # noqa: E402
from engine.repository import Repository  # noqa: E402
from engine.store import EventMetadata, EventStore  # noqa: E402
from engine.store.database import create_pool  # noqa: E402

ENVS = ("dev", "staging", "prod")


def _apply_phase() -> Any:
    """``apply_phase`` of bench/kubesim.py: the same ceiling measure, in this run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("kubesim_bench", ROOT / "bench" / "kubesim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.apply_phase


@contextmanager
def kubesim_process(clusters: list[str], kubeconfig: Path) -> Iterator[dict[str, str]]:
    """kubesim in a child process; yields cluster name → URL."""
    args = [
        sys.executable,
        "-m",
        "kubesim",
        "--kubeconfig",
        str(kubeconfig),
        "--step",
        "0.1",
        "--observe",
        "0.05",
    ]
    for name in clusters:
        args += ["--cluster", name]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls: dict[str, str] = {}
        while len(urls) < len(clusters):
            line = proc.stdout.readline()
            match = re.match(r"cluster (\S+): (\S+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
            elif not line:
                raise RuntimeError("kubesim did not start")
        yield urls
    finally:
        proc.terminate()
        proc.wait(timeout=15)


class MemoryRenderer:
    """Four objects per app and environment: two ConfigMaps, a Service, a Deployment."""

    async def render(self, app: AppSpec, sha: str, environment: str) -> Rendered:
        ns = f"bench-{environment}"
        name = app.name
        meta = {"name": name, "namespace": ns}
        bodies: list[dict[str, Any]] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {**meta, "name": f"{name}-a"},
                "data": {"release": sha[:12], "env": environment},
            },
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {**meta, "name": f"{name}-b"},
                "data": {"mode": "bench"},
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta,
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "main", "image": "web:1"}]},
                    },
                },
            },
        ]
        return finish(
            RenderedObject(
                api_version=b["apiVersion"],
                kind=b["kind"],
                namespace=ns,
                name=b["metadata"]["name"],
                body=b,
                source="bench",
            )
            for b in bodies
        )


def app_spec(i: int) -> AppSpec:
    envs = tuple(
        EnvironmentSpec(
            name=e, upstream=None, cluster=f"kubesim:{e}", namespace=f"bench-{e}", policy=Policy()
        )
        for e in ENVS
    )
    return AppSpec(
        name=f"app{i:04d}",
        repo="memory",
        branch="main",
        path=".",
        poll_interval=None,
        credentials=None,
        environments=envs,
        source_file="bench.yaml",
    )


async def prepare(store: EventStore, apps: list[AppSpec]) -> None:
    """Register the apps, one release each, and a promotion into every environment."""
    service = Promotions(Repository(store))
    meta = EventMetadata(actor="bench")
    override = Override(by="bench", reason="benchmark: every environment at once")
    slots = asyncio.Semaphore(32)

    async def one(app: AppSpec) -> None:
        async with slots:
            await service.register_app(app.name, app.as_record(), metadata=meta)
            sha = f"{int(app.name[3:]) + 1:040x}"
            await service.create_release(
                app.name,
                sha=sha,
                digest="sha256:bench",
                message="bench",
                author="bench",
                committed_at=datetime.now(UTC),
                metadata=meta,
            )
            for env in ENVS:
                await service.request(
                    app.name, env, release=sha, metadata=meta, override=override, reason="bench"
                )

    await asyncio.gather(*(one(app) for app in apps))


async def count(pool: Any, event_type: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM events WHERE type = $1", event_type))


async def global_rv(url: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/api/v1/namespaces", params={"limit": "1"}) as resp,
    ):
        return int((await resp.json())["metadata"]["resourceVersion"])


async def wait_for(pool: Any, event_type: str, n: int, limit: float) -> float:
    started = time.perf_counter()
    while await count(pool, event_type) < n:
        if time.perf_counter() - started > limit:
            raise TimeoutError(f"{event_type}: fewer than {n} after {limit:.0f}s")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict[str, Any]:
    apps = [app_spec(i) for i in range(args.apps)]
    targets = len(apps) * len(ENVS)
    objects = targets * 4
    server = Server()
    try:
        return await _measure(args, server, apps, targets, objects)
    finally:
        server.close()


async def _measure(
    args: argparse.Namespace, server: Server, apps: list[AppSpec], targets: int, objects: int
) -> dict[str, Any]:
    """The three measures, on `server`."""
    with tempfile.TemporaryDirectory(prefix="baton-reconcile-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        with kubesim_process([*ENVS, "ceiling"], kubeconfig) as urls:
            ceiling = await _apply_phase()(
                urls["ceiling"], args.ceiling_objects, args.clients, "web:1"
            )
            async with server.database() as url:
                pool = await create_pool(url, min_size=2, max_size=20)
                store = EventStore(pool)
                try:
                    setup_started = time.perf_counter()
                    await prepare(store, apps)
                    setup = time.perf_counter() - setup_started
                    settings = ApplierSettings(
                        drift_interval=3600,
                        health_interval=args.health_interval,
                        lock_interval=5,
                        concurrent_passes=args.passes,
                    )
                    async with running_appliers(
                        store=store,
                        config=EnvironmentsConfig(apps=tuple(apps)),
                        kubeconfig=kubeconfig,
                        renderer=MemoryRenderer(),
                        settings=settings,
                        promoter=False,
                    ) as service:
                        synced = await wait_for(pool, "Target.SyncSucceeded", targets, 900)
                        verified = await wait_for(pool, "Target.PromotionVerified", targets, 900)
                        verified += synced
                        await asyncio.sleep(1.0)  # let the last health checks settle
                        rvs = [await global_rv(urls[e]) for e in ENVS]
                        events = await store.head_position()
                        before = {s: w.passes for s, w in service.workers.items()}
                        sweep_started = time.perf_counter()
                        for env in ENVS:
                            await service.sweep_now(f"kubesim:{env}")
                        while any(  # noqa: ASYNC110 (workers have no completion event)
                            w.passes == before[s] or w.acting for s, w in service.workers.items()
                        ):
                            await asyncio.sleep(0.01)
                        sweep = time.perf_counter() - sweep_started
                        writes = sum([await global_rv(urls[e]) for e in ENVS]) - sum(rvs)
                        new_events = await store.head_position() - events
                finally:
                    await store.close()
                    await pool.close()
    converge_rate = objects / synced
    return {
        "apps": args.apps,
        "targets": targets,
        "objects": objects,
        "setup_s": setup,
        "ceiling_per_s": ceiling["per_second"],
        "synced_s": synced,
        "verified_s": verified,
        "converge_per_s": converge_rate,
        "share_of_ceiling": converge_rate / ceiling["per_second"],
        "sweep_s": sweep,
        "sweep_writes": writes,
        "sweep_events": new_events,
    }


def main() -> None:
    """Run and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ceiling-objects", type=int, default=3000)
    parser.add_argument("--passes", type=int, default=64, help="passes at once")
    parser.add_argument("--health-interval", type=float, default=1.0)
    args = parser.parse_args()
    f = asyncio.run(run(args))
    flux = timedelta(minutes=4, seconds=16).total_seconds()
    print(
        f"appliers: {f['apps']} apps x 3 environments x 4 objects = {f['objects']} objects "
        f"on kubesim (setup of the log: {f['setup_s']:.1f} s)"
    )
    print(f"{'measure':<44}{'value':>14}  {'target / anchor':<30}")
    rows = [
        ("raw server-side apply (ceiling)", f"{f['ceiling_per_s']:.0f}/s", "bench/kubesim.py"),
        ("first converge: all synced", f"{f['synced_s']:.1f} s", f"Flux 1,000 Ks: {flux:.0f} s"),
        (
            "first converge: rate",
            f"{f['converge_per_s']:.0f}/s",
            f"≥ {0.5 * f['ceiling_per_s']:.0f}/s (50 %)",
        ),
        ("first converge: share of ceiling", f"{100 * f['share_of_ceiling']:.0f} %", "≥ 50 %"),
        ("first converge: all healthy + verified", f"{f['verified_s']:.1f} s", ""),
        ("no-change drift sweep", f"{f['sweep_s']:.2f} s", "< 10 s (Argo CD: 180 s poll)"),
        ("writes during the sweep", f"{f['sweep_writes']}", "0"),
        ("events during the sweep", f"{f['sweep_events']}", "0"),
    ]
    for name, value, target in rows:
        print(f"{name:<44}{value:>14}  {target:<30}")
    print(
        json.dumps(
            {
                "bench": "reconcile",
                **{k: round(v, 3) if isinstance(v, float) else v for k, v in f.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
