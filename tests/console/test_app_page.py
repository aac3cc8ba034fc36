"""The app page: the pipeline as a graph, releases by environment, and Promote / Roll back
previewed before they are confirmed. `billing` and `orders` are this module's to change."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from baton.client import Client
from engine.domain.ids import short_sha
from tests.console.conftest import Console
from tests.demo.live_server import TOKENS, Live, release_verified_in_dev

pytestmark = pytest.mark.asyncio(loop_scope="package")

PROMOTION_URL = re.compile(r".*/promotions/[0-9a-f-]{36}$")


async def _landed_on_a_promotion(console: Console, page: Page) -> dict[str, object]:
    """The promotion the page landed on (its page shown, with its heading)."""
    await page.wait_for_url(PROMOTION_URL)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("^(Promotion|Rollback) of ")
    )
    return await _promotion(console.live, page.url)


async def _head(console: Console) -> int:
    return await console.live.state.database.store.head_position()


async def _csrf(page: Page) -> str:
    value = await page.locator("header input[name=csrf]").get_attribute("value")
    assert value
    return value


async def _promotion(live: Live, url: str) -> dict[str, object]:
    async with Client(live.url, TOKENS["carol"]) as carol:
        found: dict[str, object] = await carol.get(f"/promotions/{url.rsplit('/', 1)[-1]}")
        return found


async def test_the_page_draws_the_pipeline_its_releases_and_their_story(console: Console) -> None:
    page = await console.signed_in("carol", "/apps/shop")
    graph = page.get_by_role("img", name=re.compile("^shop pipeline: dev runs"))
    await expect(graph).to_be_visible()
    assert await graph.locator("g.node").count() == 3
    await expect(graph.locator("g.node[data-environment=dev]")).to_have_class("node tone-good")
    assert await graph.locator("path.edge").count() == 2
    dev = page.locator("#env-dev")
    await expect(dev.locator("[data-running] code")).to_have_text(short_sha(console.live.release))
    await expect(dev.locator(".history li")).to_contain_text(["auto to #1"])
    row = page.locator(f"table.matrix tr[data-release='{console.live.release}']")
    await expect(row.locator("td")).to_have_text(["verified running", "—", "—"])
    await expect(page.locator("#app-pipeline")).to_have_attribute("data-live-app", "shop")


async def test_a_viewer_sees_no_forms_and_a_forged_post_is_refused(console: Console) -> None:
    page = await console.signed_in("carol", "/apps/billing")
    await expect(page.locator("#needs-promoter")).to_contain_text("need the promoter role")
    await expect(page.locator("form.promote")).to_have_count(0)
    await expect(page.locator("form.rollback")).to_have_count(0)
    before = await _head(console)
    forged = await page.request.post(
        "/apps/billing/promote",
        form={"csrf": await _csrf(page), "environment": "staging", "from": "dev"},
    )
    assert forged.status == 403
    assert "carol needs the promoter role in staging" in await forged.text()
    assert await _head(console) == before, "nothing was written"
    missing = await page.request.get("/apps/no-such-app")
    assert missing.status == 404 and "there is no app no-such-app" in await missing.text()


async def test_promoting_shows_the_preview_then_lands_on_the_promotion(console: Console) -> None:
    """alice promotes billing dev → staging from the console, bob approves it there, and
    alice's pipelines page, open all along, sees staging turn Healthy without a reload."""
    pipelines = await console.signed_in("alice", "/?app=billing")
    await pipelines.evaluate("window.notReloaded = true")
    page = await console.signed_in("alice", "/apps/billing")
    staging = page.locator("#change-staging")
    await expect(staging.get_by_label("Release to promote to staging")).to_have_value("")
    await staging.get_by_label("Reason for promoting staging").fill("billing 1.0.0 for QA")
    before = await _head(console)
    await staging.get_by_role("button", name="Preview promotion to staging").click()
    await page.wait_for_url("**/apps/billing/promote?*")
    await expect(page.locator("[data-approvals]")).to_have_text("1 approval needed")
    await expect(page.locator("[data-release] code")).to_have_text(short_sha(console.live.release))
    added = page.locator("article.object-added h4")
    await expect(added.filter(has_text="Deployment billing-staging/shop")).to_have_count(1)
    await expect(page.locator("[data-manifest-counts]")).to_have_text(
        "3 added, 0 changed, 0 pruned, 0 unchanged"
    )
    await expect(page.locator("[data-dry-run]")).to_contain_text("Dry run: done")
    dry_run = page.locator(".dry-run tr", has_text="Deployment billing-staging/shop")
    await expect(dry_run).to_contain_text("namespace billing-staging does not exist yet")
    assert await _head(console) == before, "a preview writes nothing"
    await page.get_by_role("button", name="Confirm promotion").click()
    promotion = await _landed_on_a_promotion(console, page)
    assert promotion["requested_by"] == "alice" and promotion["phase"] == "awaiting_approval"
    assert promotion["reason"] == "billing 1.0.0 for QA"

    cell = pipelines.locator("#app-billing li.cell[data-environment=staging]")
    await expect(cell.locator(".in-flight")).to_contain_text("awaiting approval 0/1")
    bob = await console.signed_in("bob", page.url.removeprefix(console.live.url))
    await bob.get_by_label("Comment").fill("QA is ready")
    await bob.get_by_role("button", name="Approve").click()
    await expect(cell.locator("[data-health]")).to_have_text("Healthy", timeout=30_000)
    await expect(cell.locator(".badge.good", has_text="verified")).to_be_visible()
    assert await pipelines.evaluate("window.notReloaded") is True


async def test_a_promotion_the_rules_refuse_shows_why_and_writes_nothing(
    console: Console,
) -> None:
    page = await console.signed_in("alice", "/apps/orders")
    prod = page.locator("#change-prod")
    await prod.get_by_label("Release to promote to prod").select_option(console.live.release)
    before = await _head(console)
    await prod.get_by_role("button", name="Preview promotion to prod").click()
    await page.wait_for_url("**/apps/orders/promote?*")
    refusals = page.locator("#refusals")
    await expect(refusals).to_contain_text("This would be refused")
    await expect(refusals.locator("[data-refusal=not-verified-upstream]")).to_be_visible()
    await expect(page.get_by_role("button", name="Confirm promotion")).to_be_disabled()
    # confirmed anyway (the form posted by hand): the reasons again, with the refusal's status
    forced = await page.request.post(
        "/apps/orders/promote",
        form={"csrf": await _csrf(page), "environment": "prod", "release": console.live.release},
    )
    assert forced.status == 409
    text = await forced.text()
    assert "Refused: nothing was written" in text and "not-verified-upstream" in text
    assert await _head(console) == before


async def test_rolling_back_previews_the_way_back_then_confirms(console: Console) -> None:
    live = console.live
    await release_verified_in_dev(live, "orders", "1.1.0", "hi")
    page = await console.signed_in("alice", "/apps/orders")
    await expect(page.locator("table.matrix tbody tr")).to_have_count(2)
    await expect(page.locator("#env-dev [data-previous] code")).to_have_text(
        short_sha(live.release)
    )
    dev = page.locator("#change-dev")
    back = dev.get_by_label("Release to roll dev back to")
    await expect(back.locator("option")).to_have_count(1)
    await expect(back).to_have_value(live.release)
    await dev.get_by_label("Reason for rolling back dev").fill("1.1.0 greets wrongly")
    await dev.get_by_role("button", name="Preview rollback of dev").click()
    await page.wait_for_url("**/apps/orders/rollback?*")
    changed = page.locator("article.object-changed", has_text="ConfigMap orders-dev/shop-config")
    await expect(changed.locator("pre.diff .removed", has_text="GREETING: hi")).to_have_count(1)
    await expect(changed.locator("pre.diff .added", has_text="GREETING: hello")).to_have_count(1)
    await expect(page.locator("[data-approvals]")).to_have_text("no approval needed")
    await page.get_by_role("button", name="Confirm rollback").click()
    promotion = await _landed_on_a_promotion(console, page)
    assert promotion["kind"] == "rollback" and promotion["release"] == live.release


async def _tab_to(page: Page, element_id: str, *, presses: int = 80) -> None:
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


async def _tab_to_button(page: Page, name: str, *, presses: int = 80) -> None:
    for _ in range(presses):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "document.activeElement && document.activeElement.tagName === 'BUTTON'"
            " ? document.activeElement.textContent.trim() : null"
        )
        if focused == name:
            return
    raise AssertionError(f"Tab never reached the button {name}")


async def test_a_promotion_by_keyboard_alone(console: Console) -> None:
    page = await console.signed_in("alice", "/apps/orders")
    await _tab_to(page, "promote-staging-release")  # "from dev" is chosen already
    await page.keyboard.press("Tab")
    await page.keyboard.type("by keyboard")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/apps/orders/promote?*")
    await expect(page.locator("[data-approvals]")).to_have_text("1 approval needed")
    await _tab_to_button(page, "Confirm promotion")
    await page.keyboard.press("Enter")
    promotion = await _landed_on_a_promotion(console, page)
    assert promotion["environment"] == "staging" and promotion["reason"] == "by keyboard"
