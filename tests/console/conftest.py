"""The console's tests: one running baton for them all, and a real headless Chromium.

The browser is Debian's `chromium` (or BATON_CHROMIUM), driven by Playwright; no browser
is downloaded. Every page a test opens is watched for console errors and for
Content-Security-Policy violations: a test that met one fails. Starting baton and the
browser takes seconds, so the tests share both (each test has a browser context of its
own: its own cookies); a test that changes state works on an app of its own (`APPS`).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from engine.store.database import with_database
from tests.conftest import _admin
from tests.demo.live_server import TOKENS, Live, serving

#: the apps the console's baton serves: `shop` and `search` are only read; each of the
#: others is changed by one test only (its name says which subject's tests own it)
APPS = ("shop", "cart", "search", "billing", "orders", "ledger", "payments")
_counter = itertools.count()

#: what the probe of this kind of machine found Chromium needs, headless and offline
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """The Chromium to drive: BATON_CHROMIUM, else the one on the PATH."""
    return os.environ.get("BATON_CHROMIUM") or shutil.which("chromium")


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def site(
    pg_admin_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Live]:
    """baton serving `APPS`, each with its first release verified in dev (each app on a
    branch of its own: a test may release its own app without touching the others)."""
    name = f"baton_console_{os.getpid()}_{next(_counter)}"
    await _admin(pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    try:
        folder: Path = tmp_path_factory.mktemp("console")
        async with serving(
            with_database(pg_admin_url, name), folder, APPS, own_branches=True
        ) as found:
            yield found
    finally:
        await _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no chromium: CI installs Debian's chromium and chromium-driver")
        pytest.skip("no chromium on this machine (apt-get install chromium chromium-driver)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Console:
    """A browser pointed at a running baton, remembering every error its pages reported."""

    live: Live
    browser: Browser
    errors: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def _watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"{page.url}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))

    async def page(self) -> Page:
        """A fresh browser (its own cookies), on no page yet."""
        context = await self.browser.new_context(base_url=self.live.url)
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        self._watch(page)
        return page

    async def signed_in(self, who: str, path: str = "/") -> Page:
        """A fresh browser signed in as `who`, on `path`."""
        page = await self.page()
        await page.goto(path)
        await page.get_by_label("API token").fill(TOKENS[who])
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"**{path}")
        return page


@pytest_asyncio.fixture(loop_scope="package")
async def console(site: Live, browser: Browser) -> AsyncIterator[Console]:
    found = Console(live=site, browser=browser)
    yield found
    for context in found.contexts:
        await context.close()
    assert found.errors == [], "the pages reported errors (CSP violations among them)"
