"""Tracing overhead on the REST API: `bench/api.py`'s read latency and promotion overhead
with tracing off and on, in one run (`python bench/api.py --tracing`).

Two API processes serve the same database: one as `baton serve` runs without
`OTEL_EXPORTER_OTLP_ENDPOINT` (spans made, none exported), one exporting OTLP/HTTP to a
local receiver in a third process. The two are measured alternately, in rounds, so that
the noise of a shared machine falls on both alike. Target: p99 with tracing on within 15%
of tracing off.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from datetime import datetime

import aiohttp

from bench._db import Server, print_json_line, print_table
from bench.api import (
    CONNECTIONS,
    ROOT,
    TOKEN,
    _free_port,
    _pct,
    app_name,
    latencies,
    load_history,
    promote_timed,
    read_paths,
    start_api,
)
from engine.promotions import Promotions
from engine.repository import Repository
from engine.store import EventStore
from engine.store.database import create_pool
from projections.catalog import all_projections
from projections.rebuild import rebuild

TARGET = 0.15
ROUNDS = 6
MODES = ("off", "on")
Rounds = dict[str, dict[str, list[list[float]]]]  # measure → mode → round → latencies (ms)


def _order(turn: int) -> tuple[str, ...]:
    return MODES if turn % 2 == 0 else MODES[::-1]


async def reads(
    session: aiohttp.ClientSession,
    bases: dict[str, str],
    apps: int,
    requests: int,
    low: datetime,
    high: datetime,
) -> Rounds:
    """Read latencies per endpoint and mode, measured in alternating rounds."""
    paths = read_paths(apps, low, high)
    for base in bases.values():  # warm up: every app once, then each endpoint
        turn = iter(range(apps))
        await latencies(session, base, lambda it=turn: f"/apps/{app_name(next(it))}", apps)
        for make_path in paths.values():
            await latencies(session, base, make_path, 200)
    out: Rounds = {name: {m: [] for m in MODES} for name in paths}
    for turn in range(ROUNDS):
        for name, make_path in paths.items():
            for mode in _order(turn):
                out[name][mode].append(
                    await latencies(session, bases[mode], make_path, requests // ROUNDS)
                )
    return out


async def promotions(
    url: str, session: aiohttp.ClientSession, bases: dict[str, str], count: int
) -> Rounds:
    """POST /promotions → PromotionStarted committed, alternating the two APIs; each app is
    promoted through each API twice: first cold (not loaded by it yet), then warm."""
    pool = await create_pool(url, min_size=1, max_size=2)
    store = EventStore(pool)
    service = Promotions(Repository(store))
    out: Rounds = {k: {m: [[] for _ in range(ROUNDS)] for m in MODES} for k in ("cold", "warm")}
    try:
        for round_, kind in enumerate(("cold", "warm")):
            for index in range(count):
                app = app_name(index)
                for mode in _order(index):
                    series = 4 + 2 * round_ + MODES.index(mode)  # bench/api.py uses 1-2
                    sha = f"{series:02x}{index + 1:038x}"
                    elapsed = await promote_timed(service, session, bases[mode], app, sha)
                    out[kind][mode][index * ROUNDS // count].append(elapsed)
    finally:
        await store.close()
        await pool.close()
    return out


async def run(events: int, apps: int, requests: int, count: int) -> dict[str, object]:
    """Load, rebuild, start the receiver and both APIs, measure."""
    server = Server()
    try:
        async with server.database() as url:
            head = await load_history(url, events=events, apps=apps)
            pool = await create_pool(url, min_size=1, max_size=2)
            await rebuild(pool, all_projections())
            async with pool.acquire() as conn:
                low, high = await conn.fetchrow(
                    "SELECT min(valid_from), max(valid_from) FROM target_history"
                )
            await pool.close()
            receiver = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "bench" / "_otlp.py"),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert receiver.stdin is not None and receiver.stdout is not None
            endpoint = (await receiver.stdout.readline()).decode().strip()
            ports = {mode: _free_port() for mode in MODES}
            apis = [
                await start_api(url, ports["off"], None),
                await start_api(url, ports["on"], {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}),
            ]
            bases = {mode: f"http://127.0.0.1:{port}/api/v1" for mode, port in ports.items()}
            try:
                connector = aiohttp.TCPConnector(limit=CONNECTIONS)
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with aiohttp.ClientSession(connector=connector, headers=headers) as s:
                    read = await reads(s, bases, apps, requests, low, high)
                    promoted = await promotions(url, s, bases, min(count, apps))
            finally:
                for api in apis:
                    api.terminate()  # the traced one exports its last spans as it stops
                    await api.wait()
            receiver.stdin.close()
            spans = int((await receiver.stdout.readline()).decode().strip() or 0)
            await receiver.wait()
            return {"reads": read, "promotions": promoted, "head": head, "spans": spans}
    finally:
        server.close()


def _figures(rounds: dict[str, list[list[float]]]) -> dict[str, float]:
    """p50 and p99 per mode over all samples, and the median of the rounds' p99s (robust
    to a burst of load from elsewhere on a shared machine, which hits one round)."""
    f: dict[str, float] = {}
    for mode in MODES:
        every = [v for r in rounds[mode] for v in r]
        f[f"{mode}_p50_ms"] = round(_pct(every, 0.5), 2)
        f[f"{mode}_p99_ms"] = round(_pct(every, 0.99), 2)
        f[f"{mode}_p99_rounds_median_ms"] = round(
            statistics.median(_pct(r, 0.99) for r in rounds[mode] if r), 2
        )
        f["samples"] = len(every)
    f["ratio"] = round(f["on_p99_ms"] / f["off_p99_ms"], 3)
    f["ratio_rounds"] = round(f["on_p99_rounds_median_ms"] / f["off_p99_rounds_median_ms"], 3)
    return f


def main(args: argparse.Namespace) -> None:
    """Print the comparison table and its JSON line."""
    out = asyncio.run(run(args.events, args.apps, args.requests, args.promotions))
    measures: Rounds = dict(out["reads"])  # type: ignore[call-overload]
    for kind, values in out["promotions"].items():  # type: ignore[attr-defined]
        measures[f"POST /promotions ({kind} target)"] = values
    rows: list[list[object]] = []
    figures = {name: _figures(values) for name, values in measures.items()}
    for name, f in figures.items():
        rows.append(
            [
                name,
                int(f["samples"]),
                f["off_p50_ms"],
                f["on_p50_ms"],
                f["off_p99_ms"],
                f["on_p99_ms"],
                f"{(f['ratio'] - 1) * 100:+.1f}%",
                f"{f['off_p99_rounds_median_ms']} / {f['on_p99_rounds_median_ms']}",
                f"{(f['ratio_rounds'] - 1) * 100:+.1f}%",
                "ok" if f["ratio_rounds"] <= 1 + TARGET else "MISSED",
            ]
        )
    print_table(
        f"Tracing overhead, {out['head']:,} events ({args.apps} apps), {CONNECTIONS} "
        f"connections, {ROUNDS} alternating rounds; on = OTLP/HTTP export to a local "
        f"receiver ({out['spans']:,} spans received)",
        [
            "measure",
            "samples",
            "p50 off",
            "p50 on",
            "p99 off",
            "p99 on",
            "p99 change",
            "round p99 median off / on",
            "change",
            "verdict",
        ],
        rows,
    )
    print_json_line(
        {
            "bench": "api-tracing",
            "events": out["head"],
            "apps": args.apps,
            "spans_exported": out["spans"],
            "target_p99_overhead": TARGET,
            "measures": figures,
            "p99_ok": all(f["ratio_rounds"] <= 1 + TARGET for f in figures.values()),
        }
    )
