"""Errors as RFC 9457 problem details (`application/problem+json`).

Where it sits: the outermost middleware. Views raise `Problem` (or let a domain error
through); this module turns either, and aiohttp's own HTTP errors, into one JSON shape:
`type`, `title`, `status`, `detail`, and where it applies `field` and `errors`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from engine.domain import errors as domain
from engine.promotions import NoVerifiedRelease
from engine.repository import AggregateNotFound
from engine.store import ConcurrencyError, EventValidationError, is_database_unavailable
from engine.store.errors import DATABASE_BUSY, KeyTakenOver, StoreError

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:baton:problem:"
log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# domain rule → HTTP status: a refusal because of the target's state is a conflict; one
# because of who is asking is forbidden; one about what was sent is unprocessable
_DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.PromotionInFlight: 409,
    domain.NotVerifiedUpstream: 409,
    domain.EnvironmentFrozen: 409,
    domain.AlreadyDesired: 409,
    domain.InvalidPromotionState: 409,
    domain.NoRollbackTarget: 409,
    domain.AlreadyApproved: 409,
    domain.AutoPromotionRefused: 409,
    NoVerifiedRelease: 409,
    domain.SelfApproval: 403,
    domain.OverrideNeedsReason: 422,
    domain.UnknownRelease: 422,
    domain.UnknownPromotion: 404,
}
_DOMAIN_FIELD: dict[type[domain.DomainError], str] = {
    domain.UnknownRelease: "release",
    domain.OverrideNeedsReason: "override.reason",
    NoVerifiedRelease: "from_environment",
}


@dataclass(frozen=True)
class Refusal:
    """A problem an operation can answer with, as its OpenAPI document lists it."""

    status: int
    why: str
    #: the answer carries Retry-After: a retry can succeed
    retry_after: bool = False


#: what an operation that reads or writes the database answers while it cannot
DATABASE_AWAY = Refusal(503, "the database is unavailable or busy", retry_after=True)


class Problem(Exception):
    """An HTTP error with a problem type; raise it from a view."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        *,
        detail: str | None = None,
        field: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document."""
        doc: dict[str, Any] = {
            "type": TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            doc["detail"] = self.detail
        if self.field:
            doc["field"] = self.field
        if self.errors is not None:
            doc["errors"] = self.errors
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc

    def response(self, instance: str | None = None) -> web.Response:
        """The problem as a response."""
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(instance)),
            content_type=PROBLEM_JSON,
            headers=self.headers,
        )


def not_found(what: str, detail: str) -> Problem:
    """404 for a missing thing."""
    return Problem(404, "not-found", f"{what} not found", detail=detail)


def from_domain(exc: domain.DomainError) -> Problem:
    """A domain refusal as a problem; the in-flight promotion's id rides along on 409s."""
    status = next((s for cls, s in _DOMAIN_STATUS.items() if isinstance(exc, cls)), 409)
    extra: dict[str, Any] = {}
    if isinstance(exc, domain.PromotionInFlight):
        extra["promotion_id"] = exc.promotion_id
    field = next((f for cls, f in _DOMAIN_FIELD.items() if isinstance(exc, cls)), None)
    title = (type(exc).__doc__ or exc.code).strip().splitlines()[0]
    return Problem(status, exc.code, title, detail=str(exc), field=field, **extra)


def from_http(exc: web.HTTPException) -> Problem:
    """aiohttp's own errors (404 route, 405, 413 body too large) as problems."""
    code = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
        exc.status, "http-error"
    )
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return Problem(exc.status, code, exc.reason, detail=exc.text or None, headers=headers)


def to_problem(request: web.Request, exc: Exception) -> Problem | None:
    """The problem an exception stands for; None for one that is not an error answer."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, domain.DomainError):
        return from_domain(exc)
    if isinstance(exc, AggregateNotFound):
        return not_found("resource", str(exc))
    if isinstance(exc, ConcurrencyError):
        return Problem(409, "concurrent-change", "Changed concurrently; try again", detail=str(exc))
    if isinstance(exc, KeyTakenOver):
        return Problem(
            409,
            "idempotency-key-taken-over",
            "A retry with the same Idempotency-Key took this request over",
            detail="this attempt wrote nothing; the retry's answer stands",
            field="Idempotency-Key",
        )
    if isinstance(exc, EventValidationError) and exc.field is not None:
        # the store's last guard (text PostgreSQL cannot hold) caught what a view let through
        return Problem(
            422,
            "validation-error",
            "A value cannot be stored",
            detail=str(exc),
            field=exc.field,
            errors=[{"field": exc.field, "message": str(exc)}],
        )
    if isinstance(exc, web.HTTPException):
        return from_http(exc) if exc.status >= 400 else None
    if isinstance(exc, DATABASE_BUSY):
        log.warning("database busy in %s %s: %r", request.method, request.path, exc)
        return Problem(
            503,
            "database-busy",
            "The database is busy; try again",
            detail=type(exc).__name__,
            headers={"Retry-After": "1"},
        )
    if is_database_unavailable(exc):
        # nothing the client sent is wrong: a retry can succeed once the server takes work
        log.warning("database unavailable in %s %s: %r", request.method, request.path, exc)
        return Problem(
            503,
            "database-unavailable",
            "The database is unavailable; try again",
            detail=str(exc) if isinstance(exc, StoreError) else type(exc).__name__,
            headers={"Retry-After": "1"},
        )
    log.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return Problem(500, "internal", "Internal server error")


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as problem+json."""
    try:
        return await handler(request)
    except Exception as exc:
        problem = to_problem(request, exc)
        if problem is None:
            raise
        return problem.response(request.path)
