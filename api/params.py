"""Query parameters: parsed and checked in one place, refused as 422 problems naming them.

Where it sits: used by the read views, after `query_middleware` has refused any parameter
the operation does not declare in the OpenAPI document. Times are RFC 3339 with a zone (a
naive time is taken as UTC); positions are log positions (non-negative integers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from api.errors import Handler, Problem
from api.openapi import query_parameters

MAX_POSITION = 2**62
MAX_NUMBER = 2**31 - 1  # release numbers are int4 in the read model
# ASCII digits only (int() takes any script's, and "²" passes isdigit() but not int()),
# and few enough that int() never meets its digit limit
DIGITS = re.compile(r"[0-9]{1,19}")


def invalid(field: str, message: str) -> Problem:
    """A 422 naming the query parameter at fault."""
    return Problem(
        422,
        "validation-error",
        "A query parameter is not valid",
        detail=f"{field}: {message}",
        field=field,
        errors=[{"field": field, "message": message}],
    )


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a query parameter the operation does not declare in the OpenAPI document."""
    declared = query_parameters().get(request.match_info.route.name or "")
    if declared is not None:
        unknown = [name for name in request.query if name not in declared]
        if unknown:
            allowed = ", ".join(sorted(declared)) or "none"
            raise Problem(
                400,
                "unknown-parameter",
                "Unknown query parameter",
                detail=f"{unknown[0]!r} is not a parameter of this operation (allowed: {allowed})",
                field=unknown[0],
            )
    return await handler(request)


def text(request: web.Request, name: str, *, max_length: int = 200) -> str | None:
    """An optional string parameter."""
    value = request.query.get(name)
    if value is None:
        return None
    if not value or len(value) > max_length or not value.isprintable():
        raise invalid(name, f"expected 1 to {max_length} printable characters")
    return value


def integer(
    request: web.Request,
    name: str,
    *,
    default: int | None = None,
    low: int = 0,
    high: int = MAX_POSITION,
) -> int | None:
    """An optional integer parameter within [low, high]."""
    value = request.query.get(name)
    if value is None:
        return default
    if not DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise invalid(name, f"expected an integer from {low} to {high}")
    return int(value)


def parse_time(value: str, name: str) -> datetime:
    """An RFC 3339 / ISO 8601 time; naive times are UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(name, "expected an RFC 3339 time such as 2026-11-26T08:00:00Z") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def time(request: web.Request, name: str) -> datetime | None:
    """An optional time parameter."""
    value = request.query.get(name)
    return None if value is None else parse_time(value, name)


@dataclass(frozen=True, kw_only=True)
class Moment:
    """A point in the log's history: a time or a position."""

    at: datetime | None = None
    position: int | None = None

    def to_json(self) -> dict[str, object]:
        """As the API echoes it."""
        if self.position is not None:
            return {"position": self.position}
        return {"at": self.at.isoformat() if self.at else None}


def moment(request: web.Request, name: str, *, required: bool) -> Moment | None:
    """A time or a position (`1234` or `position:1234` for a position)."""
    value = request.query.get(name)
    if value is None or value == "":
        if required:
            raise invalid(name, "required: a time or a log position")
        return None
    raw = value.removeprefix("position:")
    if raw.isascii() and raw.isdigit():
        if not DIGITS.fullmatch(raw) or int(raw) > MAX_POSITION:
            raise invalid(name, "position out of range")
        return Moment(position=int(raw))
    return Moment(at=parse_time(value, name))


def path_part(request: web.Request, name: str, pattern: re.Pattern[str], what: str) -> str:
    """A path parameter; one that cannot name anything (bad shape, NUL) is a 404 up front."""
    value = request.match_info[name]
    if not pattern.fullmatch(value):
        raise Problem(404, "not-found", f"{what} not found", detail=f"there is no {what} {value!r}")
    return value


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SHA = re.compile(r"[0-9a-f]{7,64}")
ID = re.compile(r"[!-~]{1,200}")  # printable ASCII, no spaces: ids baton or clients make
