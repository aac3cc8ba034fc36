"""The time travel page (every target at a past moment, the changes between two) and the
insights page (the four DORA keys, each a server-drawn chart)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from engine.domain.ids import short_sha
from tests.console.conftest import Console

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_before_shop_reached_dev_nothing_ran_there_and_at_the_head_its_release_runs(
    console: Console,
) -> None:
    page = await console.signed_in("carol", "/time-travel")
    await expect(page.locator("[data-span]")).to_contain_text("The log runs from position 1")
    dev = page.locator("#tt-shop li.cell[data-environment=dev]")
    await expect(dev.locator("[data-running] code")).to_have_text(short_sha(console.live.release))
    await expect(dev.locator("[data-health]")).to_have_text("Healthy")
    envs = await page.locator("#tt-shop li.cell .env").all_inner_texts()
    assert envs == ["dev", "staging", "prod"]  # the pipeline's order

    await page.get_by_label("Log position").fill("1")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("[data-as-of]")).to_contain_text("As of position 1")
    await expect(
        page.locator("#tt-shop li.cell[data-environment=dev] [data-running]")
    ).to_have_text("nothing running")
    await expect(page.locator("#moment-slider")).to_have_value("1")


async def test_the_difference_between_two_moments_names_each_target_before_and_after(
    console: Console,
) -> None:
    page = await console.signed_in("carol", "/time-travel")
    await page.get_by_label("From").fill("1")
    await page.get_by_role("button", name="Compare").click()
    change = page.locator('table.diff tr[data-target="shop/dev"]')
    await expect(change).to_contain_text("running: nothing")
    await expect(change.locator("code").last).to_have_text(short_sha(console.live.release))


async def test_a_moment_that_is_not_valid_is_a_422_page_naming_it(console: Console) -> None:
    page = await console.signed_in("carol", "/time-travel")
    response = await page.request.get("/time-travel?from=not-a-time")  # no 4xx in the browser
    assert response.status == 422
    assert "from: " in await response.text()


async def test_insights_draw_the_four_keys_of_shop_in_dev_with_its_one_deployment(
    console: Console,
) -> None:
    page = await console.signed_in("carol", "/insights?app=shop&environment=dev&range=7d")
    sections = page.locator("section.insight")
    await expect(sections).to_have_count(1)
    shop = page.locator('section.insight[data-target="shop/dev"]')
    await expect(shop.locator("svg.chart")).to_have_count(4)
    deployments = shop.locator('[data-key="Deployment frequency"] [data-headline]')
    await expect(deployments).to_have_text("1")
    await expect(page.get_by_label("Step")).to_have_value("day")


async def test_insights_of_an_unknown_app_are_a_404_page(console: Console) -> None:
    page = await console.signed_in("carol", "/insights")
    response = await page.request.get("/insights?app=no-such-app")
    assert response.status == 404
