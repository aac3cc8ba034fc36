"""Benchmark of kubesim: server-side applies per second and watch event fan-out.

Tells the applier benchmarks whether the emulator could be their bottleneck. kubesim runs
in its own process (as `python -m kubesim`), the clients in this one, all on loopback.
Prints a table, then one JSON line with the figures as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp

APPLY = "application/apply-patch+yaml"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


@contextmanager
def kubesim_server() -> Iterator[str]:
    """Run kubesim in a child process; yield the URL of its cluster."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "--cluster", "bench"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.match(r"cluster bench: (\S+)", line)
        if not match:
            raise RuntimeError(f"kubesim did not start: {line!r}")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def deployment(i: int, image: str) -> str:
    """A typical applied object: a Deployment with labels, env and ports, as JSON."""
    name = f"app-{i}"
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": {"app.kubernetes.io/managed-by": "baton", "app": name},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": image,
                                "ports": [{"containerPort": 8080}],
                                "env": [{"name": "MODE", "value": "bench"}],
                            }
                        ]
                    },
                },
            },
        }
    )


async def apply_phase(url: str, count: int, clients: int, image: str) -> dict[str, float]:
    """`count` server-side applies from `clients` concurrent connections."""
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(
        url + "/", connector=connector, timeout=REQUEST_TIMEOUT
    ) as session:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                async with session.patch(
                    f"apis/apps/v1/namespaces/default/deployments/app-{i}",
                    params={"fieldManager": "baton", "force": "true"},
                    data=deployment(i, image),
                    headers={"Content-Type": APPLY},
                ) as resp:
                    await resp.read()
                    if resp.status >= 300:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "per_second": count / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }


async def fanout_phase(url: str, watchers: int, events: int) -> dict[str, float]:
    """`watchers` watches of ConfigMaps receive `events` writes each."""
    received = [0] * watchers
    done = asyncio.Event()
    async with aiohttp.ClientSession(
        url + "/", connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        _, listed = await _get(session, "api/v1/namespaces/default/configmaps")
        rv = listed["metadata"]["resourceVersion"]

        async def watch(n: int) -> None:
            async with session.get(
                "api/v1/namespaces/default/configmaps", params={"watch": "1", "resourceVersion": rv}
            ) as resp:
                async for line in resp.content:
                    if line.strip():
                        received[n] += 1
                        if received[n] >= events:
                            break
            if all(r >= events for r in received):
                done.set()

        tasks = [asyncio.create_task(watch(n), name=f"bench-watch-{n}") for n in range(watchers)]
        await asyncio.sleep(0.5)  # let every watch get established
        started = time.perf_counter()
        for i in range(events):
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}", "namespace": "default"},
                "data": {"i": str(i)},
            }
            async with session.post("api/v1/namespaces/default/configmaps", json=body) as resp:
                await resp.read()
        written = time.perf_counter() - started
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - started
        await asyncio.gather(*tasks)
    return {
        "writes_per_second": events / written,
        "delivered_per_second": watchers * events / elapsed,
        "drain_seconds": elapsed,
    }


async def _get(session: aiohttp.ClientSession, path: str) -> tuple[int, dict[str, Any]]:
    async with session.get(path) as resp:
        return resp.status, await resp.json()


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """All phases against one server."""
    create = await apply_phase(url, args.objects, args.clients, "web:1")
    noop = await apply_phase(url, args.objects, args.clients, "web:1")
    update = await apply_phase(url, args.objects, args.clients, "web:2")
    fanout = await fanout_phase(url, args.watchers, args.events)
    return {"create": create, "noop": noop, "update": update, "fanout": fanout}


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    with kubesim_server() as url:
        figures = asyncio.run(run(args, url))
    print(
        f"kubesim: {args.objects} Deployments, {args.clients} concurrent clients, "
        f"{args.watchers} watchers x {args.events} events"
    )
    print(f"{'phase':<28}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for phase in ("create", "noop", "update"):
        f = figures[phase]
        print(
            f"{'apply (' + phase + ')':<28}{f['per_second']:>12.0f}{f['p50_ms']:>10.1f}"
            f"{f['p99_ms']:>10.1f}{f['errors']:>8.0f}"
        )
    fan = figures["fanout"]
    print(f"{'watch writes':<28}{fan['writes_per_second']:>12.0f}")
    print(
        f"{'watch events delivered':<28}{fan['delivered_per_second']:>12.0f}"
        f"   (all drained in {fan['drain_seconds']:.2f} s)"
    )
    summary = {
        "bench": "kubesim",
        "clients": args.clients,
        "objects": args.objects,
        "apply_create_per_s": round(figures["create"]["per_second"], 1),
        "apply_noop_per_s": round(figures["noop"]["per_second"], 1),
        "apply_update_per_s": round(figures["update"]["per_second"], 1),
        "apply_p99_ms": round(max(figures[p]["p99_ms"] for p in ("create", "noop", "update")), 2),
        "apply_errors": sum(int(figures[p]["errors"]) for p in ("create", "noop", "update")),
        "watchers": args.watchers,
        "watch_events": args.events,
        "watch_delivered_per_s": round(fan["delivered_per_second"], 1),
        "watch_drain_s": round(fan["drain_seconds"], 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
