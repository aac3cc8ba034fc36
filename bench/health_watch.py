"""Benchmark of health following watches: from a rollout's last ready replica to the log.

Over N rollouts (Deployments of 3 replicas in kubesim, promoted one after another over a
few seconds), the time from the moment kubesim's controller made the last replica ready
to the ``Target.HealthChanged`` (Healthy) event in the log: p50, p99 and the worst, with
watches on, and as the peer in the same run with watches off (the appliers relist the
kinds with health rules every health interval). kubesim runs in a thread of this process
(its store tells the moment each rollout ends); Postgres is embedded unless
BATON_DATABASE_URL is set. Prints a table, then one JSON line with the figures as the
last line.

Target (issue 22): p99 ≤ 1 s with watches. Anchors: Argo CD refreshes an Application's
health from its watch-fed cache; Flux's kstatus polls every 2 s (``--poll-interval``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import Server  # noqa: E402
from engine.appliers.context import ApplierSettings  # noqa: E402
from engine.appliers.inprocess import running_appliers  # noqa: E402
from engine.config.loader import EnvironmentsConfig  # noqa: E402
from engine.domain.ids import target_stream  # noqa: E402
from engine.domain.pipeline import AppSpec, EnvironmentSpec  # noqa: E402
from engine.domain.policy import Policy  # noqa: E402
from engine.promotions import Promotions  # noqa: E402
from engine.render import Rendered, RenderedObject  # noqa: E402
from engine.render.objects import finish  # noqa: E402
from engine.repository import Repository  # noqa: E402
from engine.store import EventMetadata, EventStore  # noqa: E402
from engine.store.database import create_pool  # noqa: E402
from kubesim import ControllerTiming, start_clusters  # noqa: E402
from tests.appliers.rollouts import RolloutClock, health_lag  # noqa: E402

MODES = ("watch", "relist")
NAMESPACE = "bench"
ENV = "dev"


class DeploymentRenderer:
    """One Deployment of three replicas per app."""

    async def render(self, app: AppSpec, sha: str, environment: str) -> Rendered:
        labels = {"app": app.name}
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app.name, "namespace": NAMESPACE},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"release": sha[:12]}},
                    "spec": {"containers": [{"name": "main", "image": "web:1"}]},
                },
            },
        }
        return finish(
            [
                RenderedObject(
                    api_version="apps/v1",
                    kind="Deployment",
                    namespace=NAMESPACE,
                    name=app.name,
                    body=body,
                    source="bench",
                )
            ]
        )


def app_spec(i: int, cluster: str) -> AppSpec:
    env = EnvironmentSpec(
        name=ENV, upstream=None, cluster=cluster, namespace=NAMESPACE, policy=Policy()
    )
    return AppSpec(
        name=f"app{i:03d}",
        repo="memory",
        branch="main",
        path=".",
        poll_interval=None,
        credentials=None,
        environments=(env,),
        source_file="bench.yaml",
    )


async def promote(store: EventStore, apps: list[AppSpec], spread: float) -> None:
    """Register each app and a release, then promote them one after another over `spread`."""
    service = Promotions(Repository(store))
    meta = EventMetadata(actor="bench")
    for i, app in enumerate(apps):
        await service.register_app(app.name, app.as_record(), metadata=meta)
        await service.create_release(
            app.name,
            sha=f"{i + 1:040x}",
            digest="sha256:bench",
            message="bench",
            author="bench",
            committed_at=datetime.now(UTC),
            metadata=meta,
        )
    for i, app in enumerate(apps):
        await service.request(app.name, ENV, release=f"{i + 1:040x}", metadata=meta)
        await asyncio.sleep(spread / len(apps))


async def lags(
    store: EventStore, apps: list[AppSpec], clock: RolloutClock, limit: float
) -> list[float]:
    """Seconds from each rollout's end to its Healthy in the log (waits for all of them)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    out: dict[str, float] = {}
    while len(out) < len(apps):
        if loop.time() > deadline:
            raise TimeoutError(f"{len(apps) - len(out)} rollouts not Healthy after {limit:.0f}s")
        for app in apps:
            ready = clock.ready.get((NAMESPACE, app.name))
            if app.name in out or ready is None:
                continue
            lag = health_lag(
                await store.read_stream(target_stream(app.name, ENV)), "Healthy", ready
            )
            if lag is not None:
                out[app.name] = lag
        await asyncio.sleep(0.2)
    return list(out.values())


async def measure(args: argparse.Namespace, server: Server, sim: Any, mode: str) -> list[float]:
    """One run: fresh database, fresh cluster; watches on or off."""
    cluster = f"kubesim:{mode}"
    apps = [app_spec(i, cluster) for i in range(args.rollouts)]
    settings = ApplierSettings(
        drift_interval=60.0, health_interval=args.health_interval, watch=mode == "watch"
    )
    clock = RolloutClock(sim.cluster(mode))
    try:
        async with server.database() as url:
            pool = await create_pool(url, min_size=2, max_size=20)
            store = EventStore(pool)
            try:
                async with running_appliers(
                    store=store,
                    config=EnvironmentsConfig(apps=tuple(apps)),
                    kubeconfig=sim.kubeconfig_path,
                    renderer=DeploymentRenderer(),
                    settings=settings,
                    promoter=False,
                ):
                    await promote(store, apps, args.spread)
                    return await lags(store, apps, clock, limit=120.0)
            finally:
                await store.close()
                await pool.close()
    finally:
        clock.close()


def summary(values: list[float]) -> dict[str, float]:
    """p50, p99 and the worst, in seconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_s": statistics.median(ordered), "p99_s": p99, "max_s": ordered[-1]}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    timing = replace(ControllerTiming(), observe=0.05, step=args.step)
    server = Server()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="baton-health-watch-") as tmp,
            start_clusters(list(MODES), timing=timing, kubeconfig_path=Path(tmp) / "kc") as sim,
        ):
            figures = {mode: summary(await measure(args, server, sim, mode)) for mode in MODES}
    finally:
        server.close()
    return {
        "rollouts": args.rollouts,
        "health_interval_s": args.health_interval,
        **{f"{mode}_{k}": v for mode, f in figures.items() for k, v in f.items()},
    }


def main() -> None:
    """Run and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument("--spread", type=float, default=5.0, help="seconds to promote them all")
    parser.add_argument("--step", type=float, default=0.2, help="kubesim: s per ready replica")
    parser.add_argument("--health-interval", type=float, default=1.0, help="the relist peer's")
    args = parser.parse_args()
    f = asyncio.run(run(args))
    print(
        f"health: {f['rollouts']} rollouts of 3 replicas on kubesim; last replica ready → "
        f"Target.HealthChanged (Healthy) in the log"
    )
    print(f"{'mode':<40}{'p50':>10}{'p99':>10}{'max':>10}  {'target':<10}")
    for mode, name, target in (
        ("watch", "watches", "p99 ≤ 1 s"),
        ("relist", f"relist every {f['health_interval_s']:g} s (peer)", ""),
    ):
        print(
            f"{name:<40}{f[f'{mode}_p50_s']:>9.3f}s{f[f'{mode}_p99_s']:>9.3f}s"
            f"{f[f'{mode}_max_s']:>9.3f}s  {target:<10}"
        )
    print(
        json.dumps(
            {
                "bench": "health_watch",
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in f.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
