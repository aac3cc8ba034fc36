"""The auth middleware and the role checks views make.

Where it sits: after the problem middleware, before idempotency and the views. A view
marked `@public` needs no token (health, the OpenAPI document, the signed Git webhook);
every other one needs a bearer token (401 without a valid one) and then asks `require()`
for the role it needs in the environment it touches (403 when the token lacks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from api.auth import Principal, Role
from api.context import principal
from api.errors import Handler, Problem, Refusal
from api.keys import CONFIG, PRINCIPAL

F = TypeVar("F", bound=Callable[..., Any])
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="baton"'}
#: what every operation but the public ones can answer before its view runs, or as it starts
AUTH_REFUSALS = (
    Refusal(401, "no valid bearer token"),
    Refusal(403, "the token's roles do not allow this"),
)


def public(view: F) -> F:
    """Mark a view as reachable without a token."""
    view.__baton_public__ = True  # type: ignore[attr-defined]
    return view


def is_public(view: Callable[..., Any]) -> bool:
    """True for a view marked `@public`."""
    return bool(getattr(view, "__baton_public__", False))


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Authentication required",
        detail=detail,
        field="Authorization",
        headers=_CHALLENGE,
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate the bearer token unless the matched view is public (or none matched:
    a path nothing serves is a 404, whoever asks)."""
    if request.match_info.http_exception is not None or is_public(request.match_info.handler):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send 'Authorization: Bearer <token>'")
    found = request.app[CONFIG].tokens.authenticate(token.strip())
    if found is None:
        raise _unauthorized("the token is not valid")
    request[PRINCIPAL] = found
    return await handler(request)


def require(request: web.Request, role: Role, environment: str | None = None) -> Principal:
    """The caller, if allowed `role` (in `environment`); 403 otherwise."""
    caller = principal(request)
    if not caller.allows(role, environment):
        where = f" in {environment}" if environment else ""
        extra: dict[str, Any] = {"environment": environment} if environment else {}
        raise Problem(
            403,
            "forbidden",
            "Not allowed",
            detail=f"{caller.subject} needs the {role} role{where}",
            required_role=role.value,
            **extra,
        )
    return caller
