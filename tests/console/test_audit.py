"""The audit page: the log filtered and paged, an event's data and hash, the filtered set
as JSON lines and CSV, and the hash chain's state."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from playwright.async_api import expect

from baton.client import Client
from engine.domain.vocabulary import EventType
from tests.console.conftest import Console
from tests.demo.live_server import TOKENS

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_filtering_by_app_and_type_opens_to_the_event_data_and_hash(
    console: Console,
) -> None:
    page = await console.signed_in("carol", "/audit")
    await page.get_by_label("App", exact=True).fill("shop")
    await page.get_by_label("Type").select_option(EventType.PROMOTION_VERIFIED.value)
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r"/audit\?app=shop&.*type=Target.PromotionVerified"))
    rows = page.locator("table.audit tbody tr")
    await expect(rows).to_have_count(1)  # shop's first release, verified in dev
    await expect(rows.locator("td").nth(3)).to_have_text("dev")
    await rows.locator("td a").click()
    await page.wait_for_url(re.compile(r"/audit/\d+$"))
    await expect(page.locator("h1")).to_contain_text(EventType.PROMOTION_VERIFIED.value)
    data = json.loads(await page.locator("[data-event-data]").inner_text())
    assert data["release"] == console.live.release
    metadata = json.loads(await page.locator("[data-event-metadata]").inner_text())
    assert metadata["actor"]
    await expect(page.locator("[data-hash]")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))


async def test_the_downloads_hold_the_rows_of_the_filtered_page(console: Console) -> None:
    page = await console.signed_in("carol", "/audit?app=shop")
    shown = [
        int(p) for p in await page.locator("table.audit tbody tr td:first-child").all_inner_texts()
    ]
    assert shown and shown == sorted(shown, reverse=True)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="CSV").click()
    download = await download_info.value
    assert download.suggested_filename == "audit.csv"
    text = (await download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [int(r["position"]) for r in rows] == shown
    assert {r["app"] for r in rows} == {"shop"}

    response = await page.request.get("/audit.jsonl?app=shop")
    assert response.ok
    assert response.headers["content-disposition"] == 'attachment; filename="audit.jsonl"'
    lines = [json.loads(line) for line in (await response.text()).splitlines()]
    assert [line["position"] for line in lines] == shown


async def test_the_chain_state_shows_the_last_verification_and_only_an_admin_may_verify_now(
    console: Console,
) -> None:
    async with Client(console.live.url, TOKENS["carol"]) as carol:
        report = await carol.get("/audit/verify")  # the API's run is recorded
    page = await console.signed_in("carol", "/audit")
    await expect(page.locator("[data-chain-state]")).to_contain_text(
        re.compile(r"Intact: verified up to position \d+")
    )
    assert report["ok"]
    await expect(page.get_by_role("button", name="Verify now")).to_have_count(0)
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    refused = await page.request.post("/audit/verify", form={"csrf": csrf})
    assert refused.status == 403

    admin = await console.signed_in("dana", "/audit")
    head = await console.live.state.database.store.head_position()
    await admin.get_by_role("button", name="Verify now").click()
    await admin.wait_for_url("**/audit#chain")
    verified = int((await admin.locator("[data-chain-state] strong").inner_text()).replace(",", ""))
    assert verified >= head  # the chain as it is now, not the run before


async def test_a_filter_that_is_not_valid_is_a_422_page_naming_it(console: Console) -> None:
    page = await console.signed_in("carol", "/audit")
    for query, field in (("type=NoSuchEvent", "type"), ("since=yesterday", "since")):
        response = await page.request.get(f"/audit?{query}")  # the browser logs any 4xx
        assert response.status == 422
        assert f"{field}: " in await response.text()
