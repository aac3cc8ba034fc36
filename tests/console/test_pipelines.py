"""The pipelines page: every app's environments in pipeline order, following the log live."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import expect

from baton.client import Client
from console.pages import CONTENT_SECURITY_POLICY
from engine.domain.ids import short_sha
from tests.console.conftest import APPS, Console
from tests.demo.live_server import TOKENS

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_each_app_is_a_row_of_its_environments_in_pipeline_order(console: Console) -> None:
    page = await console.signed_in("carol")
    rows = page.locator("table.pipelines tbody tr")
    await expect(rows).to_have_count(len(APPS))
    assert await rows.locator("th a").all_inner_texts() == sorted(APPS)
    shop = page.locator("#app-shop")
    envs = await shop.locator("li.cell .env").all_inner_texts()
    assert envs == ["dev", "staging", "prod"]  # the config's order, not alphabetical
    dev = shop.locator("li.cell[data-environment=dev]")
    await expect(dev.locator("code").first).to_have_text(short_sha(console.live.release))
    await expect(dev.locator(".subject")).to_have_text("shop 1.0.0")
    await expect(dev.locator("[data-health]")).to_have_text("Healthy")
    await expect(dev.locator("[data-sync]")).to_have_text("Synced")
    await expect(dev.locator(".badge.good", has_text="verified")).to_be_visible()
    await expect(shop.locator("li.cell[data-environment=prod] .release")).to_have_text(
        "nothing running"
    )


async def test_filters_keep_the_apps_and_environment_asked_for(console: Console) -> None:
    page = await console.signed_in("carol")
    await page.get_by_label("App", exact=True).fill("ar")  # cart, search
    await page.get_by_label("Environment", exact=True).fill("staging")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url("**/?app=ar&environment=staging")
    rows = page.locator("table.pipelines tbody tr")
    assert await rows.locator("th a").all_inner_texts() == ["cart", "search"]
    assert await rows.locator("li.cell .env").all_inner_texts() == ["staging", "staging"]


async def test_pages_of_apps_follow_one_another_by_name(console: Console) -> None:
    page = await console.signed_in("carol")
    await page.goto("/?after=cart")
    names = await page.locator("table.pipelines tbody th a").all_inner_texts()
    assert names == [n for n in sorted(APPS) if n > "cart"]
    await expect(page.get_by_role("link", name="First page")).to_be_visible()


async def test_a_cell_changes_live_when_a_promotion_lands(console: Console) -> None:
    """staging of `cart`: promoted and approved through the API while the page stays open."""
    page = await console.signed_in("carol")
    await page.evaluate("window.notReloaded = true")
    staging = page.locator("#app-cart li.cell[data-environment=staging]")
    await expect(staging.locator(".release")).to_have_text("nothing running")
    async with Client(console.live.url, TOKENS["alice"]) as alice:
        promotion = await alice.post(
            "/promotions", {"app": "cart", "environment": "staging", "from_environment": "dev"}
        )
    await expect(staging.locator(".in-flight")).to_contain_text("awaiting approval 0/1")
    async with Client(console.live.url, TOKENS["bob"]) as bob:
        await bob.post(f"/promotions/{promotion['id']}/approve", {"comment": "ok"})
    await expect(staging.locator("[data-health]")).to_have_text("Healthy", timeout=30_000)
    await expect(staging.locator("code").first).to_have_text(short_sha(console.live.release))
    assert await page.evaluate("window.notReloaded") is True


async def test_every_page_is_framed_by_a_strict_content_security_policy(
    console: Console,
) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/sign-in", "/api/docs", "/no-such-page"):
            async with http.get(console.live.url + path) as response:
                assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        async with http.get(console.live.url + "/api/v1/healthz") as response:
            assert "Content-Security-Policy" not in response.headers  # JSON is not a page


async def test_an_unknown_path_is_a_404_page(console: Console) -> None:
    page = await console.signed_in("carol")
    response = await page.goto("/no-such-page")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not Found")
    console.errors.clear()  # the browser logs the 404 it was asked to fetch


async def test_the_api_reference_lists_every_operation_of_the_openapi_document(
    console: Console,
) -> None:
    page = await console.page()
    await page.goto("/api/docs")
    async with (
        aiohttp.ClientSession() as http,
        http.get(console.live.url + "/api/v1/openapi.json") as response,
    ):
        document = await response.json()
    listed = await page.locator("article.operation").evaluate_all("els => els.map(e => e.id)")
    expected = [
        f"op-{op['operationId']}" for item in document["paths"].values() for op in item.values()
    ]
    assert sorted(listed) == sorted(expected)
    # public, as the document is: nobody signed in; each body names its schema
    schema = page.locator("details#schema-PromotionCreate")
    await schema.locator("summary").click()
    await expect(schema.locator("pre")).to_contain_text('"from_environment"')
