"""Console benchmark: page times at a fixed offered rate, page weight, live pages, API reads.

Loads ~1M realistic events of 1,000 apps × 3 environments (bench/_events.py), builds the
read models and starts one API process (`baton serve --role api`, the console included)
pinned to one core; this process, the load generator, is pinned to the other. Then:

- pages, open loop: the pipelines, app, promotion and audit pages, each at 20 requests/s
  at once (targets: server time p99 <= 100 ms for the pipelines page, <= 50 ms for each
  other page). Server time is what the page's `Server-Timing` header says; the latency
  seen by the client, counted from when each request was due, is shown beside it;
- the pipelines page in headless Chromium (Debian's): DOMContentLoaded (target <= 1 s),
  and its weight: HTML of the page without data rows + CSS + JS (target <= 150 KB
  before compression), the full page's HTML beside it;
- live: 100 pages follow `/live` (as many server-sent-event clients) while events are
  appended at 500 a second: every page must get every change, none told to draw itself
  again (resync), and the lag from commit to arrival is reported (p99, max);
- the API's reads, open loop: for `GET /apps/{app}`, `GET /events?app=&environment=` and
  `GET /state?as_of=`, the highest offered rate (of a ladder) at which p99 <= 25 ms; the
  highest rate of the three mixed at which each keeps p99 <= 25 ms; and p99 of each at
  1,000 requests/s mixed (the issue's target, <= 25 ms each).

    python bench/web.py [--events 1000000] [--apps 1000] [--seconds 30]

Prints tables, then one JSON line (last line).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("COLUMNS", "150")
sys.path.insert(0, str(ROOT))

from api.app import PIPELINES_WARM  # noqa: E402
from bench._db import Server, print_json_line, print_table  # noqa: E402
from bench._events import Event, Generator, load  # noqa: E402
from bench.api import TOKEN, _free_port, app_name, read_paths, start_api  # noqa: E402
from engine.store.database import create_pool  # noqa: E402
from projections.base import WHOLE_LOG_TIMEOUT  # noqa: E402
from projections.catalog import all_projections  # noqa: E402
from projections.rebuild import rebuild  # noqa: E402

PAGE_RATE = 20.0  # requests/s per page type
PAGE_TARGETS_MS = {"pipelines": 100.0, "app": 50.0, "promotion": 50.0, "audit": 50.0}
DCL_TARGET_MS = 1000.0
WEIGHT_TARGET_KB = 150.0
LIVE_PAGES = 100
LIVE_RATE = 500  # events/s appended while the pages follow
LIVE_SECONDS = 10
READ_P99_MS = 25.0
READ_LADDER = (100, 200, 400, 600, 800, 1000, 1200, 1600)
MIXED_LADDER = (100, 200, 300, 400, 600, 800)
MIXED_RATE = 1000.0
STEP_SECONDS = 5.0
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_CHANGE_ID = re.compile(rb"id: (\d+)\nevent: change\n")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _pin(pid: int, core: int) -> None:
    """Run `pid` on one core only, when the machine has more than one."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(pid, {cores[core % len(cores)]})


async def sign_in(session: aiohttp.ClientSession, base: str) -> None:
    """Sign `session` in to the console with the benchmark's token, as a browser does."""
    async with session.get(f"{base}/sign-in") as response:
        csrf = _CSRF.search(await response.text())
    assert csrf is not None, "the sign-in page has no CSRF field"
    form = {"token": TOKEN, "csrf": csrf.group(1), "next": "/"}
    async with session.post(f"{base}/sign-in", data=form, allow_redirects=False) as response:
        if response.status != 303:
            raise RuntimeError(f"sign-in answered {response.status}")


def _session(**kwargs: Any) -> aiohttp.ClientSession:
    # the console's cookies are for 127.0.0.1: an IP address, which the default jar refuses
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **kwargs)


async def open_loop(
    session: aiohttp.ClientSession,
    base: str,
    paths: dict[str, Callable[[], str]],
    rate: float,
    seconds: float,
) -> dict[str, dict[str, list[float]]]:
    """Every kind of `paths` at `rate` a second each, whatever the answers, for `seconds`.

    Each latency counts from when the request was due, so a stall delays every request
    behind it as it would independent clients; the server's own time comes from its
    `Server-Timing` header when it sends one.
    """
    loop = asyncio.get_running_loop()
    out: dict[str, dict[str, list[float]]] = {
        kind: {"client": [], "server": [], "errors": []} for kind in paths
    }

    async def one(kind: str, due: float, path: str) -> None:
        await asyncio.sleep(due - loop.time())
        async with session.get(base + path, allow_redirects=False) as response:
            await response.read()
            timing = response.headers.get("Server-Timing", "")
            status = response.status
        out[kind]["client"].append((loop.time() - due) * 1000)
        if status != 200:
            out[kind]["errors"].append(float(status))
        if found := re.search(r"dur=([0-9.]+)", timing):
            out[kind]["server"].append(float(found.group(1)))

    start = loop.time() + 0.1
    count = int(rate * seconds)
    tasks = [
        one(kind, start + (i + k / len(paths)) / rate, make())
        for i in range(count)
        for k, (kind, make) in enumerate(paths.items())
    ]
    await asyncio.gather(*tasks)
    return out


async def page_paths(url: str, apps: int) -> dict[str, Callable[[], str]]:
    """The measured pages, each a maker of random paths (seeded: repeatable)."""
    conn = await asyncpg.connect(url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM promotions LIMIT 5000")]
    finally:
        await conn.close()
    rng = random.Random(11)

    def pipelines() -> str:
        after = rng.randrange(apps)
        return "/" if after == 0 else f"/?after={app_name(after - 1)}"

    return {
        "pipelines": pipelines,
        "app": lambda: f"/apps/{app_name(rng.randrange(apps))}",
        "promotion": lambda: f"/promotions/{rng.choice(ids)}",
        "audit": lambda: f"/audit?app={app_name(rng.randrange(apps))}",
    }


#: the page → the API's JSON read of what it shows (the peer: the same read model, no page)
API_PEERS = {"app": "/apps/", "promotion": "/promotions/", "audit": "/events?app="}


async def measure_pages(base: str, url: str, apps: int, seconds: float) -> dict[str, Any]:
    """The four page types at PAGE_RATE each, after a warm-up; then, as the peer, the API's
    JSON reads of the same things at the same rates."""
    paths = await page_paths(url, apps)
    async with _session(connector=aiohttp.TCPConnector(limit=256)) as session:
        await sign_in(session, base)
        await open_loop(session, base, paths, PAGE_RATE, min(5.0, seconds))  # warm-up
        measured = await open_loop(session, base, paths, PAGE_RATE, seconds)
    peers = {
        kind: (lambda make=paths[kind], kind=kind: _as_api(kind, make())) for kind in API_PEERS
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with _session(connector=aiohttp.TCPConnector(limit=256), headers=headers) as session:
        api = await open_loop(session, f"{base}/api/v1", peers, PAGE_RATE, seconds)
    out: dict[str, Any] = {}
    for kind, values in measured.items():
        out[kind] = {
            "server_p50_ms": round(_pct(values["server"], 0.5), 2),
            "server_p99_ms": round(_pct(values["server"], 0.99), 2),
            "client_p99_ms": round(_pct(values["client"], 0.99), 2),
            "errors": len(values["errors"]),
            "target_ms": PAGE_TARGETS_MS[kind],
        }
        if kind in api:
            out[kind]["api_client_p99_ms"] = round(_pct(api[kind]["client"], 0.99), 2)
    return out


def _as_api(kind: str, page: str) -> str:
    """The API path that reads what the page `page` of `kind` shows."""
    name = page.rsplit("/", 1)[-1] if kind != "audit" else page.split("app=", 1)[1]
    return API_PEERS[kind] + name


async def measure_browser(base: str, loads: int = 10) -> dict[str, Any]:
    """DOMContentLoaded of the pipelines page in headless Chromium, and the page's weight."""
    out: dict[str, Any] = {}
    async with _session() as session:
        await sign_in(session, base)
        async with session.get(f"{base}/?app=no-app-has-this-name") as response:
            skeleton = await response.text()
        async with session.get(f"{base}/") as response:
            full = await response.text()
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', full)
        sizes = {}
        for asset in assets:
            async with session.get(base + asset) as response:
                sizes[asset.split("?")[0]] = len(await response.read())
    weight = len(skeleton.encode()) + sum(sizes.values())
    out["weight_kb"] = round(weight / 1024, 1)
    out["full_html_kb"] = round(len(full.encode()) / 1024, 1)
    out["assets_kb"] = {k: round(v / 1024, 1) for k, v in sizes.items()}
    chromium = os.environ.get("BATON_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        out["dom_content_loaded_ms"] = None
        return out
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"],
        )  # fmt: skip
        try:
            page = await (await browser.new_context(base_url=base)).new_page()
            await page.goto("/sign-in")
            await page.get_by_label("API token").fill(TOKEN)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/")
            times = []
            for _ in range(loads):
                await page.goto("/", wait_until="domcontentloaded")
                times.append(
                    await page.evaluate(
                        "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
                    )
                )
        finally:
            await browser.close()
    out["dom_content_loaded_ms"] = round(statistics.median(times), 1)
    out["dom_content_loaded_max_ms"] = round(max(times), 1)
    return out


async def _follow(
    session: aiohttp.ClientSession, base: str, arrived: dict[int, float], resyncs: list[int]
) -> None:
    """One page following /live: the arrival time of each change, by log position."""
    timeout = aiohttp.ClientTimeout(total=None)
    tail = b""
    async with session.get(f"{base}/live", timeout=timeout) as stream:
        async for chunk in stream.content.iter_any():
            now = time.monotonic()
            text = tail + chunk
            # whole messages only: a message cut by the chunk's end waits for the next
            cut = text.rfind(b"\n\n") + 2
            text, tail = text[:cut], text[cut:]
            for position in _CHANGE_ID.findall(text):
                arrived[int(position)] = now
            resyncs.extend([1] * text.count(b"event: resync"))


async def measure_live(base: str, url: str, more: Iterator[Event]) -> dict[str, Any]:
    """LIVE_PAGES pages follow while LIVE_RATE events a second are appended."""
    pages: list[dict[int, float]] = [{} for _ in range(LIVE_PAGES)]
    resyncs: list[int] = []
    committed: dict[int, float] = {}
    async with _session(connector=aiohttp.TCPConnector(limit=LIVE_PAGES + 8)) as session:
        await sign_in(session, base)
        followers = [
            asyncio.create_task(_follow(session, base, arrived, resyncs)) for arrived in pages
        ]
        await asyncio.sleep(2.0)  # every page connected
        conn = await asyncpg.connect(url)
        try:
            chunk = LIVE_RATE // 10
            loop = asyncio.get_running_loop()
            start = loop.time()
            for tick in range(LIVE_SECONDS * 10):
                await asyncio.sleep(max(0.0, start + tick / 10 - loop.time()))
                await load(conn, itertools.islice(more, chunk), group=chunk)
                done = time.monotonic()
                head = await conn.fetchval("SELECT position FROM event_head")
                for position in range(head - chunk + 1, head + 1):
                    committed[position] = done
            await asyncio.sleep(3.0)  # the last changes reach every page
        finally:
            await conn.close()
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
    lags = [
        (arrived[p] - at) * 1000 for arrived in pages for p, at in committed.items() if p in arrived
    ]
    missing = sum(1 for arrived in pages for p in committed if p not in arrived)
    return {
        "pages": LIVE_PAGES,
        "events_per_s": LIVE_RATE,
        "events": len(committed),
        "missing": missing,
        "resyncs": len(resyncs),
        "lag_p50_ms": round(_pct(lags, 0.5), 1),
        "lag_p99_ms": round(_pct(lags, 0.99), 1),
        "lag_max_ms": round(max(lags), 1) if lags else None,
    }


async def measure_reads(base: str, apps: int, low: datetime, high: datetime) -> dict[str, Any]:
    """Each read endpoint up a ladder of offered rates; then all three at 1,000/s mixed."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    makers = read_paths(apps, low, high)
    out: dict[str, Any] = {
        "highest_rate_p99_ok": {},
        "ladder": {},
        "mixed": {},
        "mixed_ladder": {},
        "highest_mixed_rate_p99_ok": 0,
    }
    async with _session(connector=aiohttp.TCPConnector(limit=512), headers=headers) as session:
        api = f"{base}/api/v1"
        await open_loop(session, api, makers, 100, 3.0)  # warm-up
        for name, make in makers.items():
            best = 0
            ladder: dict[int, float] = {}
            for rate in READ_LADDER:
                got = await open_loop(session, api, {name: make}, rate, STEP_SECONDS)
                p99 = _pct(got[name]["client"], 0.99)
                ladder[rate] = round(p99, 2)
                if p99 > READ_P99_MS or got[name]["errors"]:
                    break
                best = rate
            out["highest_rate_p99_ok"][name] = best
            out["ladder"][name] = ladder
        for rate in MIXED_LADDER:
            got = await open_loop(session, api, makers, rate / len(makers), STEP_SECONDS)
            worst = max(_pct(v["client"], 0.99) for v in got.values())
            out["mixed_ladder"][rate] = round(worst, 2)
            if worst > READ_P99_MS or any(v["errors"] for v in got.values()):
                break
            out["highest_mixed_rate_p99_ok"] = rate
        mixed = await open_loop(session, api, makers, MIXED_RATE / len(makers), 10.0)
        for name, values in mixed.items():
            out["mixed"][name] = {
                "p50_ms": round(_pct(values["client"], 0.5), 2),
                "p99_ms": round(_pct(values["client"], 0.99), 2),
                "errors": len(values["errors"]),
            }
    return out


async def _warmed(base: str) -> None:
    """Wait until the API has loaded every app's pipeline (what it does once it starts)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            async with session.get(f"{base}/api/v1/readyz") as response:
                tasks = (await response.json())["tasks"]
            if tasks.get(PIPELINES_WARM, {}).get("state") == "stopped":
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not load the pipelines within 60 s")


async def run(events: int, apps: int, seconds: float) -> dict[str, Any]:
    server = Server()
    try:
        async with server.database() as url:
            generator = Generator(apps)
            conn = await asyncpg.connect(url)
            try:
                started = time.perf_counter()
                await load(conn, generator.events(events))
                await conn.execute("VACUUM (ANALYZE) events", timeout=WHOLE_LOG_TIMEOUT)
                load_s = time.perf_counter() - started
            finally:
                await conn.close()
            pool = await create_pool(url, min_size=1, max_size=2)
            await rebuild(pool, all_projections())
            async with pool.acquire() as c:
                # the rebuilt read models, settled as autovacuum would have them long before
                # anyone reads them all day (its work would otherwise land in the timings)
                await c.execute("VACUUM (ANALYZE)", timeout=WHOLE_LOG_TIMEOUT)
                head = await c.fetchval("SELECT position FROM event_head")
                low, high = await c.fetchrow(
                    "SELECT min(valid_from), max(valid_from) FROM target_history"
                )
            await pool.close()
            rng = random.Random(5)
            more = itertools.chain.from_iterable(
                generator.release(rng.choice(generator.apps)) for _ in itertools.count()
            )
            gc.collect()
            gc.freeze()  # the client's collections would count as the server's latency
            gc.set_threshold(50_000, 10, 10)
            port = _free_port()
            api = await start_api(url, port, {"BATON_LOG_LEVEL": "WARNING"}, workers=1)
            _pin(api.pid, 0)
            _pin(os.getpid(), 1)
            base = f"http://127.0.0.1:{port}"
            await _warmed(base)
            try:
                out: dict[str, Any] = {"events": head, "apps": apps, "load_s": round(load_s, 1)}
                out["pages"] = await measure_pages(base, url, apps, seconds)
                out["browser"] = await measure_browser(base)
                out["live"] = await measure_live(base, url, more)
                out["reads"] = await measure_reads(base, apps, low, high)
            finally:
                api.terminate()
                await api.wait()
            out["postgres"] = await server.version()
            return out
    finally:
        server.close()


def verdicts(out: dict[str, Any]) -> dict[str, bool]:
    """Each target, met or not."""
    pages = out["pages"]
    browser = out["browser"]
    live = out["live"]
    reads = out["reads"]
    dcl = browser.get("dom_content_loaded_ms")
    return {
        "pages": all(
            p["server_p99_ms"] <= p["target_ms"] and p["errors"] == 0 for p in pages.values()
        ),
        "dom_content_loaded": dcl is not None and dcl <= DCL_TARGET_MS,
        "weight": browser["weight_kb"] <= WEIGHT_TARGET_KB,
        "live": live["missing"] == 0 and live["resyncs"] == 0,
        "reads_mixed": all(
            r["p99_ms"] <= READ_P99_MS and r["errors"] == 0 for r in reads["mixed"].values()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0, help="each page run")
    args = parser.parse_args()
    out = asyncio.run(run(args.events, args.apps, args.seconds))
    print_table(
        f"console pages, open loop at {PAGE_RATE:.0f}/s each ({out['events']:,} events, "
        f"{out['apps']} apps)",
        ["page", "server p50 ms", "server p99 ms", "client p99 ms",
         "the API's JSON of it, client p99 ms", "target p99 ms", "errors"],
        [
            [k, v["server_p50_ms"], v["server_p99_ms"], v["client_p99_ms"],
             v.get("api_client_p99_ms", "-"), v["target_ms"], v["errors"]]
            for k, v in out["pages"].items()
        ],
    )  # fmt: skip
    b = out["browser"]
    print_table(
        "the pipelines page in headless Chromium",
        ["DOMContentLoaded ms (median)", "max", "HTML+CSS+JS KB (no rows)", "full HTML KB"],
        [[b["dom_content_loaded_ms"], b.get("dom_content_loaded_max_ms"), b["weight_kb"],
          b["full_html_kb"]]],
    )  # fmt: skip
    live = out["live"]
    print_table(
        f"{live['pages']} pages following /live at {live['events_per_s']} events/s",
        ["events", "missing", "resyncs", "lag p50 ms", "lag p99 ms", "lag max ms"],
        [[live["events"], live["missing"], live["resyncs"], live["lag_p50_ms"],
          live["lag_p99_ms"], live["lag_max_ms"]]],
    )  # fmt: skip
    reads = out["reads"]
    print_table(
        "API reads, open loop (one API process on one core; highest mixed rate with every "
        f"p99 <= 25 ms: {reads['highest_mixed_rate_p99_ok']}/s)",
        ["read", "highest rate with p99 <= 25 ms", f"p99 ms at {MIXED_RATE:.0f}/s mixed"],
        [[name, reads["highest_rate_p99_ok"][name], reads["mixed"][name]["p99_ms"]]
         for name in reads["mixed"]],
    )  # fmt: skip
    out["targets_met"] = verdicts(out)
    print_json_line({"benchmark": "web", **out})


if __name__ == "__main__":
    main()
