"""Signing in and out of the console, as a person would in a real browser."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import expect

from tests.console.conftest import APPS, Console
from tests.demo.live_server import TOKENS

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_a_page_asked_for_without_a_session_signs_in_then_shows_it(console: Console) -> None:
    page = await console.page()
    await page.goto("/?app=sh")
    assert "/sign-in" in page.url
    await page.get_by_label("API token").fill(TOKENS["carol"])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/?app=sh")
    await expect(page.get_by_role("heading", name="Pipelines")).to_be_visible()
    await expect(page.get_by_role("link", name="shop")).to_be_visible()
    await expect(page.locator("header .subject")).to_have_text("carol")


async def test_a_wrong_token_is_refused_and_signs_no_one_in(console: Console) -> None:
    page = await console.page()
    await page.goto("/sign-in")
    await page.get_by_label("API token").fill("not-a-token-at-all")
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name="Sign in").click()
    assert (await posted.value).status == 401
    await expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    await page.goto("/")
    assert "/sign-in" in page.url
    # the console expects the error above: the browser logs a 401 as a failed resource
    console.errors.clear()


async def test_the_session_cookie_is_http_only_strict_and_not_the_token(console: Console) -> None:
    page = await console.signed_in("alice")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["baton_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert TOKENS["alice"] not in session["value"]
    assert TOKENS["alice"] not in await page.content()
    assert await page.evaluate("document.cookie") == ""  # nothing a script can read


async def test_sign_out_ends_the_session_on_the_server_too(console: Console) -> None:
    page = await console.signed_in("alice")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "baton_session")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/sign-in")
    # the old cookie, replayed by hand, opens nothing
    async with (
        aiohttp.ClientSession(cookies={"baton_session": cookie["value"]}) as http,
        http.get(console.live.url + "/", allow_redirects=False) as response,
    ):
        assert response.status == 303
        assert response.headers["Location"].startswith("/sign-in")


async def test_an_expired_session_signs_in_again_and_returns_to_the_page(
    console: Console,
) -> None:
    page = await console.signed_in("carol", "/?app=shop")
    # away from the live page first: a change to shop now would reload it to sign-in
    await page.goto("about:blank")
    pool = console.live.state.database.store.pool
    await pool.execute("UPDATE console_sessions SET expires_at = now() - interval '1 second'")
    await page.goto("/?environment=prod")
    assert "/sign-in" in page.url
    await page.get_by_label("API token").fill(TOKENS["carol"])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/?environment=prod")
    await expect(page.locator("li.cell[data-environment=prod]")).to_have_count(len(APPS))


async def test_a_form_without_its_csrf_token_is_refused_with_a_403_page(
    console: Console,
) -> None:
    page = await console.signed_in("alice")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "baton_session")
    async with aiohttp.ClientSession(cookies={"baton_session": cookie["value"]}) as http:
        for form in ({}, {"csrf": "stale-token"}):
            async with http.post(console.live.url + "/sign-out", data=form) as response:
                assert response.status == 403
                assert response.content_type == "text/html"
                assert "The form has expired" in await response.text()
    await page.reload()  # the session still stands: nothing was done
    await expect(page.locator("header .subject")).to_have_text("alice")


async def test_sign_in_posted_from_another_site_is_refused(console: Console) -> None:
    async with aiohttp.ClientSession() as http:
        form = {"token": TOKENS["alice"], "csrf": "forged", "next": "/"}
        async with http.post(console.live.url + "/sign-in", data=form) as response:
            assert response.status == 403
            assert "baton_session" not in response.cookies
