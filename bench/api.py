"""REST API benchmark: read latency with a million events, and the engine's promotion overhead.

Loads ~1M realistic events (bench/_events.py), builds the read models, starts the API
(`baton serve --workers N`, one process per core by default) on loopback, and drives it
with 32 connections:

- reads: requests per second and p50/p99 latency of `GET /apps/{app}`,
  `GET /events?app=&environment=` and `GET /state?as_of=<time>` (targets: p99 <= 25 ms),
  with 32 connections each sending its next request when the last is answered (so the
  latency is mostly the queue behind the other 31), from `wrk` when the machine has it
  (Debian's package) and else from an aiohttp client, which takes a core of its own;
  then open loop at half the rate those reached (the latency a client sees when the
  server is not saturated). The same with a single API process, as the peer;
- promotion overhead, over 200 promotions into an environment that needs no approval:
  `POST /promotions` until `PromotionStarted` is committed (the 202 is sent after the
  commit), for a target the API has not loaded yet, with no snapshot (cold) or with one
  left by an earlier process (restarted), and for one it has loaded (warm);
- the engine's promotion overhead, over as many promotions: `POST /promotions` until the
  applier's first server-side apply for the target reaches kubesim, with baton running
  in this process as `baton serve` does, on a fresh database (`bench/_promotion_apply.py`;
  target: p99 <= 100 ms).

    python bench/api.py [--events 1000000] [--apps 200] [--workers 2] [--seconds 10]
                        [--requests 3000] [--apply-apps 10]
    python bench/api.py --tracing [...]   # the same with tracing off, then on (exporting
                                          # OTLP/HTTP to a local receiver), p99 compared

Prints a table, then one JSON line (last line).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import socket
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("COLUMNS", "150")  # room for the table
sys.path.insert(0, str(ROOT))

from bench import _wrk  # noqa: E402
from bench._db import Server, print_json_line, print_table  # noqa: E402
from bench._events import ENVIRONMENTS, Generator, load  # noqa: E402
from bench._promotion_apply import measure as promotion_to_apply  # noqa: E402
from engine.domain.app import App  # noqa: E402
from engine.domain.enums import Health  # noqa: E402
from engine.domain.target import Target  # noqa: E402
from engine.promotions import Promotions  # noqa: E402
from engine.repository import Repository  # noqa: E402
from engine.store import EventMetadata, EventStore  # noqa: E402
from engine.store.database import create_pool  # noqa: E402
from projections.base import WHOLE_LOG_TIMEOUT  # noqa: E402
from projections.catalog import all_projections  # noqa: E402
from projections.rebuild import rebuild  # noqa: E402

TOKEN = "bench-admin-token"
CONNECTIONS = 32
READ_P99_MS = 25.0
PROMOTION_P99_MS = 100.0
NO_SNAPSHOTS = 10**9  # a Repository's snapshot_every that never takes one
PACED_SECONDS = 8  # how long the open-loop run at half the throughput lasts, at most
CLOSED_SECONDS = 10.0  # each closed-loop run with wrk
WARM_SECONDS = 4.0
PATHS = 4000  # distinct request paths per endpoint, sent in turn


def app_name(index: int) -> str:
    """The name the generator gives the app with this index."""
    return f"app-{index:04d}"


async def load_history(url: str, *, events: int, apps: int) -> int:
    """Write about `events` events of `apps` apps; returns the head position."""
    conn = await asyncpg.connect(url)
    try:
        await load(conn, Generator(apps).events(events))
        # as autovacuum would have by the time such a log is read, rather than during the
        # timings (bench/replay.py does the same)
        await conn.execute("VACUUM (ANALYZE) events", timeout=WHOLE_LOG_TIMEOUT)
        head: int = await conn.fetchval("SELECT position FROM event_head")
        return head
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_api(
    url: str, port: int, extra_env: dict[str, str] | None = None, *, workers: int = 1
) -> asyncio.subprocess.Process:
    """The API (`workers` processes on one port) as its own process, ready when /readyz says so."""
    env = {
        **os.environ,
        "BATON_DATABASE_URL": url,
        "BATON_TOKENS": f"bench:admin:{TOKEN}",
        "BATON_API_PORT": str(port),
        "BATON_API_WORKERS": str(workers),
        # the 32 connections are spread over the processes
        "BATON_API_POOL_SIZE": str(-(-CONNECTIONS // workers)),
        "BATON_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    if extra_env is None:
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "baton", "serve", "--role", "api", cwd=ROOT, env=env
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"http://127.0.0.1:{port}/api/v1/readyz") as r:
                    if r.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("the API did not become ready within 60 s")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latencies(
    session: aiohttp.ClientSession, base: str, make_path: Callable[[], str], requests: int
) -> list[float]:
    """`requests` GETs over CONNECTIONS concurrent workers; each one's latency in ms."""
    out: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            path = make_path()
            started = time.perf_counter()
            async with session.get(base + path) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {path}: {response.status}")
            out.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return out


async def drive(
    session: aiohttp.ClientSession, base: str, make_path: Callable[[], str], requests: int
) -> dict[str, float]:
    """Requests per second and latency percentiles of `latencies`."""
    started = time.perf_counter()
    measured = await latencies(session, base, make_path, requests)
    elapsed = time.perf_counter() - started
    return {
        "rps": round(len(measured) / elapsed, 1),
        "p50_ms": round(_pct(measured, 0.5), 2),
        "p99_ms": round(_pct(measured, 0.99), 2),
    }


async def paced(
    session: aiohttp.ClientSession,
    base: str,
    make_path: Callable[[], str],
    rate: float,
    requests: int,
) -> dict[str, float]:
    """Open loop: GETs sent at `rate` a second, whatever the answers; latency percentiles.

    Each latency counts from when the request was due, not from when it was sent, so a
    stall delays every request behind it as it would independent clients.
    """
    loop = asyncio.get_running_loop()
    out: list[float] = []

    async def one(due: float, path: str) -> None:
        await asyncio.sleep(due - loop.time())
        async with session.get(base + path) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
        out.append((loop.time() - due) * 1000)

    start = loop.time() + 0.05
    await asyncio.gather(*(one(start + i / rate, make_path()) for i in range(requests)))
    return {
        "rps": round(rate, 1),
        "p50_ms": round(_pct(out, 0.5), 2),
        "p99_ms": round(_pct(out, 0.99), 2),
    }


async def _settle(service: Promotions, app: str, sha: str) -> None:
    """The applier's part, written from here: synced, healthy, verified."""
    repository = service.repository
    target = await repository.get(Target, f"target:{app}:dev")
    now = datetime.now(UTC)
    target.record_sync(sync_id=f"bench-{sha[:8]}", release=sha, now=now)
    target.record_health(health=Health.HEALTHY, reasons=[], now=now)
    target.verify(soak_seconds=0, now=now)
    await repository.save(target, metadata=EventMetadata(actor="applier"))


async def promote_timed(
    service: Promotions, session: aiohttp.ClientSession, base: str, app: str, sha: str
) -> float:
    """Release `sha` of `app`, POST its promotion into dev, settle it; ms the POST took."""
    await service.create_release(
        app,
        sha=sha,
        digest="d" * 64,
        message="bench",
        author="bench",
        committed_at=datetime.now(UTC),
        metadata=EventMetadata(actor="git-watcher"),
    )
    body = {"app": app, "environment": "dev", "release": sha, "reason": "bench"}
    started = time.perf_counter()
    async with session.post(base + "/promotions", json=body) as response:
        answer = await response.json()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 202 or answer["phase"] != "started":
        raise RuntimeError(f"promotion of {sha[:12]} in {app}: {response.status} {answer}")
    await _settle(service, app, sha)
    return elapsed


async def promotions_overhead(
    url: str, base: str, apps: int, count: int
) -> dict[str, dict[str, float]]:
    """POST /promotions into dev (no approval) → PromotionStarted committed, per promotion.

    Each app is promoted twice: first with its target not yet loaded by the API process,
    then again once the first promotion has been verified (warm: the API's repository
    reads only the newer events). The first is "cold" for every other app: the whole
    stream is replayed, as happens once in a target's life; for the others a process
    (this one, standing for the API process before a restart) has loaded the target
    before, which left a snapshot: "restarted".
    """
    pool = await create_pool(url, min_size=1, max_size=2)
    store = EventStore(pool)
    # this process's own loads (the Git watcher's and the applier's part) leave no snapshot
    service = Promotions(Repository(store, snapshot_every=NO_SNAPSHOTS))
    latencies: dict[str, list[float]] = {"cold": [], "restarted": [], "warm": []}
    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        earlier = Repository(store, snapshot_every=1)
        for index in range(1, min(count, apps), 2):
            await earlier.get(App, f"app:{app_name(index)}")
            await earlier.get(Target, f"target:{app_name(index)}:dev")
        for index in range(count):
            app = app_name(index % apps)
            first = "restarted" if index % apps % 2 else "cold"
            for round_, kind in enumerate((first, "warm")):
                sha = f"{round_ + 1:02x}{index + 1:038x}"
                latencies[kind].append(await promote_timed(service, session, base, app, sha))
    finally:
        await session.close()
        await store.close()
        await pool.close()
    return {
        kind: {"p50_ms": round(_pct(values, 0.5), 2), "p99_ms": round(_pct(values, 0.99), 2)}
        for kind, values in latencies.items()
        if values
    }


def _figures(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(_pct(values, 0.5), 2),
        "p99_ms": round(_pct(values, 0.99), 2),
    }


async def run(
    events: int,
    apps: int,
    requests: int,
    promotions: int,
    apply_apps: int = 10,
    workers: int = 2,
    seconds: float = CLOSED_SECONDS,
) -> dict[str, object]:
    server = Server()
    try:
        async with server.database() as url:
            started = time.perf_counter()
            head = await load_history(url, events=events, apps=apps)
            load_s = time.perf_counter() - started
            pool = await create_pool(url, min_size=1, max_size=2)
            started = time.perf_counter()
            await rebuild(pool, all_projections())
            rebuild_s = time.perf_counter() - started
            async with pool.acquire() as conn:
                low, high = await conn.fetchrow(
                    "SELECT min(valid_from), max(valid_from) FROM target_history"
                )
            await pool.close()
            out: dict[str, object] = {"head": head, "load_s": load_s, "rebuild_s": rebuild_s}
            # the open-loop client is this process: as `baton serve` does, keep what it holds
            # and the thousands of requests it has in flight out of full collections, whose
            # pauses (up to 50 ms, measured) would count as the server's latency
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 10, 10)
            # one process first (the peer), and the promotions on it: with several, a
            # target one process loaded is cold to the next that a POST lands on
            for count in sorted({1, workers}):
                port = _free_port()
                api = await start_api(url, port, workers=count)
                try:
                    closed, half = await measure_reads(port, apps, requests, low, high, seconds)
                    out[f"reads_{count}"], out[f"half_{count}"] = closed, half
                    if count == 1:
                        out["promotion"] = await promotions_overhead(
                            url, f"http://127.0.0.1:{port}/api/v1", apps, promotions
                        )
                finally:
                    api.terminate()
                    await api.wait()
        async with server.database() as url:
            applied = await promotion_to_apply(url, TOKEN, apps=apply_apps, count=promotions)
        out["to_apply"] = {
            "all": _figures(applied["cold"] + applied["warm"]),
            **{kind: _figures(values) for kind, values in applied.items() if values},
        }
        return out
    finally:
        server.close()


def read_paths(apps: int, low: datetime, high: datetime) -> dict[str, Callable[[], str]]:
    """The measured reads, each a maker of random request paths (seeded: repeatable)."""
    rng = random.Random(7)
    span = (high - low).total_seconds()
    return {
        "GET /apps/{app}": lambda: f"/apps/{app_name(rng.randrange(apps))}",
        "GET /events?app=&environment=": lambda: (
            f"/events?app={app_name(rng.randrange(apps))}&environment={rng.choice(ENVIRONMENTS)}"
        ),
        "GET /state?as_of=": lambda: (
            "/state?as_of="
            + datetime.fromtimestamp(low.timestamp() + rng.random() * span, UTC)
            .isoformat()
            .replace("+00:00", "Z")
        ),
    }


async def measure_reads(
    port: int, apps: int, requests: int, low: datetime, high: datetime, seconds: float
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Each read endpoint closed loop (wrk when installed), then open loop at half that rate."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    results: dict[str, dict[str, float]] = {}
    half: dict[str, dict[str, float]] = {}
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        base = f"http://127.0.0.1:{port}/api/v1"

        async def closed(paths: list[str], duration: float) -> dict[str, float]:
            if _wrk.available():
                return await _wrk.closed_loop(
                    f"http://127.0.0.1:{port}",
                    [f"/api/v1{p}" for p in paths],
                    headers,
                    connections=CONNECTIONS,
                    seconds=duration,
                )
            return await drive(session, base, partial(next, itertools.cycle(paths)), requests)

        for name, make_path in read_paths(apps, low, high).items():
            paths = [make_path() for _ in range(PATHS)]
            # warm-up, long enough for every process to have read every app once
            await closed(paths, WARM_SECONDS)
            results[name] = await closed(paths, seconds)
            rate = results[name]["rps"] / 2
            half[name] = await paced(
                session,
                base,
                partial(next, itertools.cycle(paths)),
                rate,
                min(requests, int(rate * PACED_SECONDS)),
            )
    return results, half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--requests", type=int, default=3000, help="per read endpoint")
    parser.add_argument("--promotions", type=int, default=200)
    parser.add_argument(
        "--apply-apps",
        type=int,
        default=10,
        help="apps the promotions to apply go round-robin over",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="API processes on the port (baton serve --workers)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=CLOSED_SECONDS,
        help="each closed-loop run, when wrk drives it",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="compare tracing off and on (OTLP/HTTP to a local receiver)",
    )
    args = parser.parse_args()
    if args.tracing:
        from bench import api_tracing

        api_tracing.main(args)
        return
    out = asyncio.run(
        run(
            args.events,
            args.apps,
            args.requests,
            args.promotions,
            args.apply_apps,
            args.workers,
            args.seconds,
        )
    )
    reads: dict[str, dict[str, float]] = out[f"reads_{args.workers}"]  # type: ignore[assignment]
    one: dict[str, dict[str, float]] = out["reads_1"]  # type: ignore[assignment]
    promotion: dict[str, dict[str, float]] = out["promotion"]  # type: ignore[assignment]
    to_apply: dict[str, dict[str, float]] = out["to_apply"]  # type: ignore[assignment]
    rows: list[list[object]] = [
        [
            name,
            r["rps"],
            r["p50_ms"],
            r["p99_ms"],
            f"<= {READ_P99_MS}",
            "ok" if r["p99_ms"] <= READ_P99_MS else "MISSED",
        ]
        for name, r in reads.items()
    ]
    if args.workers != 1:
        rows += [
            [f"{name}, 1 process", r["rps"], r["p50_ms"], r["p99_ms"], "-", "-"]
            for name, r in one.items()
        ]
    half: dict[str, dict[str, float]] = out[f"half_{args.workers}"]  # type: ignore[assignment]
    rows += [
        [f"{name}, open loop at half that rate", r["rps"], r["p50_ms"], r["p99_ms"], "-", "-"]
        for name, r in half.items()
    ]
    for kind, figures in promotion.items():
        rows.append(
            [
                f"POST /promotions -> PromotionStarted committed ({kind} target)",
                "-",
                figures["p50_ms"],
                figures["p99_ms"],
                f"<= {PROMOTION_P99_MS}",
                "ok" if figures["p99_ms"] <= PROMOTION_P99_MS else "MISSED",
            ]
        )
    labels = {
        "all": f"all {to_apply['all']['n']}, {args.apply_apps} targets",
        "warm": "release applied in the target before",
        "cold": "release new to the target",
    }
    for kind, label in labels.items():
        if kind not in to_apply:
            continue
        figures = to_apply[kind]
        verdict = (
            ("ok" if figures["p99_ms"] <= PROMOTION_P99_MS else "MISSED") if kind == "all" else "-"
        )
        rows.append(
            [
                f"POST /promotions -> first apply at kubesim ({label})",
                "-",
                figures["p50_ms"],
                figures["p99_ms"],
                f"<= {PROMOTION_P99_MS}",
                verdict,
            ]
        )
    generator = "wrk" if _wrk.available() else "aiohttp"
    print_table(
        f"REST API, {out['head']:,} events ({args.apps} apps), {args.workers} API processes, "
        f"{CONNECTIONS} connections from {generator}, "
        f"load {out['load_s']:.0f}s, projections rebuilt in {out['rebuild_s']:.0f}s",
        ["measure", "req/s", "p50 ms", "p99 ms", "target p99", "verdict"],
        rows,
    )
    reads_ok = all(r["p99_ms"] <= READ_P99_MS for r in reads.values())
    print_json_line(
        {
            "bench": "api",
            "events": out["head"],
            "apps": args.apps,
            "connections": CONNECTIONS,
            "load_generator": generator,
            "api_processes": args.workers,
            "reads": reads,
            "reads_one_process": one,
            "reads_open_loop_at_half_rate": half,
            "promotion_to_started": promotion,
            "promotion_to_kubesim_apply": {**to_apply, "targets": args.apply_apps},
            "promotion_to_kubesim_apply_p99_ok": to_apply["all"]["p99_ms"] <= PROMOTION_P99_MS,
            "reads_p99_ok": reads_ok,
            "promotion_p99_ok": all(f["p99_ms"] <= PROMOTION_P99_MS for f in promotion.values()),
            "load_seconds": round(float(out["load_s"]), 1),
            "rebuild_seconds": round(float(out["rebuild_s"]), 1),
            "mean_of_read_p99_ms": round(statistics.mean(r["p99_ms"] for r in reads.values()), 2),
        }
    )


if __name__ == "__main__":
    main()
