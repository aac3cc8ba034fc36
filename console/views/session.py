"""Sign-in and sign-out: an API token given once, kept by the browser as a session cookie.

The token is checked like a bearer token; what the browser keeps is a random session id
(HttpOnly, SameSite=Strict, Secure behind TLS), so the token never reaches a URL, a page
or a log line. Every role signs in (a viewer reads); what each page offers follows roles.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from api.auth import hash_token
from api.keys import CONFIG
from console.keys import CONSOLE, SESSIONS
from console.pages import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    check_csrf,
    local_path,
    page,
    render,
    secure,
)

log = logging.getLogger(__name__)


def _form(
    request: web.Request, *, next_path: str, error: str | None = None, status: int = 200
) -> web.Response:
    """The sign-in form, with a fresh CSRF token for its post (kept in a cookie too)."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        {"next": next_path, "sign_in_csrf": token, "error": error},
        status=status,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=secure(request),
        path="/sign-in",
        max_age=3600,
    )
    return response


@page(session=False)
async def sign_in_form(request: web.Request) -> web.StreamResponse:
    """The sign-in page."""
    return _form(request, next_path=local_path(request.query.get("next")))


@page(session=False)
async def sign_in(request: web.Request) -> web.StreamResponse:
    """Check the token; open a session and go on to the page asked for."""
    await check_csrf(request, request.cookies.get(SIGN_IN_COOKIE))
    form = await request.post()
    next_path = local_path(str(form.get("next") or ""))
    token = str(form.get("token") or "").strip()
    principal = request.app[CONFIG].tokens.authenticate(token) if token else None
    if principal is None:
        log.info("console: a sign-in with an unknown token was refused")
        return _form(request, next_path=next_path, error="That token is not valid.", status=401)
    ttl = request.app[CONSOLE].session_ttl
    session_id, _ = await request.app[SESSIONS].open(token_hash=hash_token(token), ttl=ttl)
    log.info("console: %s signed in", principal.subject)
    response = web.HTTPSeeOther(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        secure=secure(request),
        path="/",
        max_age=int(ttl.total_seconds()),
    )
    response.del_cookie(SIGN_IN_COOKIE, path="/sign-in")
    raise response


@page()
async def sign_out(request: web.Request) -> web.StreamResponse:
    """End the session; back to sign-in."""
    await request.app[SESSIONS].close(request.cookies[SESSION_COOKIE])
    response = web.HTTPSeeOther("/sign-in")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
