"""The promotion page: what was asked, its timeline growing live, and the four-eyes rule
kept by the page and by the server. `ledger` and `payments` are this module's apps."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from baton.client import Client
from tests.console.conftest import Console
from tests.demo.live_server import TOKENS

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def awaiting_approval(console: Console, app: str) -> dict[str, Any]:
    """The promotion of `app` to staging awaiting approval (alice requests one if none)."""
    async with Client(console.live.url, TOKENS["alice"]) as alice:
        staging = (await alice.get(f"/apps/{app}"))["environments"][1]
        if staging["in_flight"] is not None:
            found: dict[str, Any] = await alice.get(f"/promotions/{staging['in_flight']['id']}")
            return found
        created: dict[str, Any] = await alice.post(
            "/promotions",
            {"app": app, "environment": "staging", "from_environment": "dev", "reason": "1.0.0"},
        )
        return created


async def csrf_of(page: Page) -> str:
    """The session's CSRF token, as the page's own sign-out form carries it."""
    token = await page.locator('form[action="/sign-out"] input[name="csrf"]').input_value()
    assert token
    return token


async def test_the_requester_is_told_the_four_eyes_rule_and_the_server_refuses_anyway(
    console: Console,
) -> None:
    promotion = await awaiting_approval(console, "ledger")
    page = await console.signed_in("alice", f"/promotions/{promotion['id']}")
    await expect(page.locator("[data-phase]")).to_have_text("awaiting approval")
    await expect(page.locator("[data-entry=requested]")).to_contain_text("requested by alice")
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(page.locator("[data-four-eyes]")).to_contain_text("You requested this promotion")
    await expect(page.locator("[data-four-eyes]")).to_contain_text(
        "1 approval from people other than the requester"
    )
    store = console.live.state.database.store
    before = await store.head_position()
    answer = await page.request.post(
        f"/promotions/{promotion['id']}/approve",
        form={"csrf": await csrf_of(page), "comment": "me, myself"},
        max_redirects=0,
    )
    assert answer.status == 403
    body = await answer.text()
    assert f"alice requested promotion {promotion['id']} and cannot also approve it" in body
    assert "Nothing was changed" in body
    assert await store.head_position() == before


async def test_an_approval_by_someone_else_grows_the_requesters_open_page_live(
    console: Console,
) -> None:
    promotion = await awaiting_approval(console, "ledger")
    path = f"/promotions/{promotion['id']}"
    alice = await console.signed_in("alice", path)
    await alice.evaluate("window.notReloaded = true")
    await expect(alice.locator("[data-live-state]")).to_have_text("live")
    bob = await console.signed_in("bob", path)
    await bob.get_by_label("Comment").fill("checked the changelog")
    await bob.get_by_role("button", name="Approve").click()
    await bob.wait_for_url(f"**{path}")
    await expect(bob.locator("[data-entry=approved]")).to_contain_text("approved by bob")
    timeline = alice.locator("#promotion-timeline")
    approved = timeline.locator("[data-entry=approved]")
    await expect(approved).to_contain_text("approved by bob")
    await expect(approved).to_contain_text("checked the changelog")
    for kind in ("started", "synced", "verified"):
        await expect(timeline.locator(f"[data-entry={kind}]")).to_have_count(1, timeout=30_000)
    await expect(timeline.locator("[data-entry=synced] ul.objects li").first).to_be_visible()
    await expect(timeline.locator("[data-entry=health]").last).to_contain_text("Healthy")
    await expect(alice.locator("[data-phase]")).to_have_text("completed")
    assert await alice.evaluate("window.notReloaded") is True


async def test_a_rejection_shows_with_its_comment(console: Console) -> None:
    promotion = await awaiting_approval(console, "payments")
    path = f"/promotions/{promotion['id']}"
    bob = await console.signed_in("bob", path)
    await bob.get_by_label("Comment").fill("not during the sale")
    await bob.get_by_role("button", name="Reject").click()
    await bob.wait_for_url(f"**{path}")
    rejected = bob.locator("[data-entry=rejected]")
    await expect(rejected).to_contain_text("rejected by bob")
    await expect(rejected).to_contain_text("not during the sale")
    await expect(bob.locator("[data-phase]")).to_have_text("rejected")
    await expect(bob.get_by_role("button", name="Approve")).to_have_count(0)


async def test_a_viewer_sees_no_decision_and_is_forbidden_to_post_one(console: Console) -> None:
    promotion = await awaiting_approval(console, "payments")
    page = await console.signed_in("carol", f"/promotions/{promotion['id']}")
    await expect(page.locator("[data-phase]")).to_have_text("awaiting approval")
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(page.get_by_role("button", name="Reject")).to_have_count(0)
    store = console.live.state.database.store
    before = await store.head_position()
    for decision in ("approve", "reject"):
        answer = await page.request.post(
            f"/promotions/{promotion['id']}/{decision}",
            form={"csrf": await csrf_of(page), "comment": "why not"},
            max_redirects=0,
        )
        assert answer.status == 403
        assert "carol needs the approver role in staging" in await answer.text()
    assert await store.head_position() == before


async def test_an_unknown_promotion_is_a_404_page_naming_it(console: Console) -> None:
    page = await console.signed_in("carol")
    response = await page.goto("/promotions/no-such-promotion")
    assert response is not None and response.status == 404
    await expect(page.locator(".detail")).to_contain_text("no-such-promotion")
    console.errors.clear()  # the browser logs the 404 it was asked to fetch
