"""What every console page shares: the sign-in check, CSRF, rendering, and error pages.

Where it sits: around each console view. `@page` marks a view as one the API's bearer
check lets through, and checks the browser's session cookie instead: without a live
session the browser goes to sign-in (and back to the page afterwards); with one, the
token's principal is the caller, so `api.guard.require` decides what it may do exactly as
it does for the API. A form post must carry the session's CSRF token. Errors of a page —
refusals, unknown names, a database away — are pages, with the status the API would give.
"""

from __future__ import annotations

import functools
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
from aiohttp import web

from api.errors import Problem, to_problem
from api.guard import public
from api.keys import CONFIG, PRINCIPAL
from console.keys import SESSION, SESSIONS

log = logging.getLogger(__name__)
View = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: the session cookie: an id whose hash names the session, never the token
SESSION_COOKIE = "baton_session"
#: the sign-in form's CSRF token, sent back as a cookie (nobody is signed in to hold one)
SIGN_IN_COOKIE = "baton_sign_in"
CSRF_FIELD = "csrf"
#: no page is cached (each shows live state, and some show who is signed in)
_NO_STORE = {"Cache-Control": "no-store"}
#: the console's pages may load only what the console itself serves
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def is_console_path(path: str) -> bool:
    """True for a path the console answers (everything but the API's JSON)."""
    return not path.startswith("/api/v1/")


def secure(request: web.Request) -> bool:
    """True when the browser reached baton over TLS (directly or through a proxy)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def local_path(target: str | None, default: str = "/") -> str:
    """`target` when it is a path of this server; `default` for anything that leaves it."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def sign_in_url(next_path: str) -> str:
    """Where a browser without a session is sent, to come back to `next_path` afterwards."""
    return "/sign-in?next=" + quote(local_path(next_path), safe="/")


def _came_from(request: web.Request) -> str:
    """The page a form was posted from (the page to go back to after signing in again)."""
    if request.method == "GET":
        return request.path_qs
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.netloc and referer.netloc != request.host:
        return "/"
    return local_path(referer.path + (f"?{referer.query}" if referer.query else ""))


async def signed_in(request: web.Request) -> bool:
    """True when the browser holds a live session (its caller is then the request's)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return False
    session = await request.app[SESSIONS].find(session_id)
    if session is None:
        return False
    holder = request.app[CONFIG].tokens.holder(session.token_hash)
    if holder is None:  # the token was taken out of the token file
        return False
    request[PRINCIPAL] = holder
    request[SESSION] = session
    return True


def forbidden(detail: str) -> Problem:
    """403: the form's CSRF token is missing or stale."""
    return Problem(403, "csrf", "The form has expired", detail=detail, field=CSRF_FIELD)


async def check_csrf(request: web.Request, expected: str | None) -> None:
    """403 unless the posted form carries `expected` as its CSRF token."""
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise forbidden("reload the page and send the form again")


def page(*, session: bool = True) -> Callable[[View], View]:
    """A console view: public to the API's bearer check; the session cookie instead
    (`session=False`: a page anyone may see, or one that checks the session itself)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            if session:
                if not await signed_in(request):
                    raise web.HTTPSeeOther(sign_in_url(_came_from(request)))
                if request.method == "POST":
                    await check_csrf(request, request[SESSION].csrf)
            response = await view(request)
            if not response.prepared:  # how long the server took, for the browser's tools
                elapsed = (time.perf_counter() - started) * 1000
                response.headers["Server-Timing"] = f"page;dur={elapsed:.1f}"
            return response

        return public(wrapper)

    return decorate


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """A page from its template, with what every page shows (who is signed in, the CSRF
    token its forms carry)."""
    session = request.get(SESSION)
    values = {
        "request": request,
        "caller": request.get(PRINCIPAL),
        "csrf": session.csrf if session is not None else None,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, values, status=status)
    response.headers.update(_NO_STORE)
    return response


def error_page(request: web.Request, problem: Problem) -> web.Response:
    """A problem as a page: its status, title and detail, and a way back."""
    body = problem.body(request.path)
    response = render(request, "error.html", {"problem": body}, status=problem.status)
    response.headers.update(problem.headers)
    return response


@web.middleware
async def page_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Outside the API, an error is a page (an unknown path a 404 page), not JSON."""
    if not is_console_path(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPRedirection:
        raise
    except Exception as exc:
        problem = to_problem(request, exc)
        if problem is None:
            raise
        return error_page(request, problem)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every console answer is framed by the strict policy (`on_response_prepare`)."""
    if is_console_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
