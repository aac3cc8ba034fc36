"""Query and path parameters: declared once, parsed and checked in one place, refused as
problems naming them.

Where it sits: each operation (`api.operation`) declares its query parameters as the
objects below; the OpenAPI document takes their schemas from them, `query_middleware`
refuses any parameter the operation does not declare (400), and the view reads each value
through its declaration (422 naming it when it is not valid). Times are RFC 3339 with a
zone (a naive time is taken as UTC); positions are log positions (non-negative integers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from api.errors import Handler, Problem, Refusal
from api.operation import operation_of

MAX_POSITION = 2**62
MAX_NUMBER = 2**31 - 1  # release numbers are int4 in the read model
# ASCII digits only (int() takes any script's, and "²" passes isdigit() but not int()),
# and few enough that int() never meets its digit limit
DIGITS = re.compile(r"[0-9]{1,19}")

UNKNOWN_PARAMETER = Refusal(400, "a query parameter the operation does not declare")
INVALID_PARAMETER = Refusal(422, "a query parameter is not valid (see `field`)")
#: what each path parameter names; a value that cannot name anything is a 404
PATH_PARAMETERS = {
    "app": "the app's name",
    "sha": "the commit SHA (or a unique prefix of it)",
    "promotion_id": "the promotion's id",
    "job_id": "the job's id",
    "name": "the subscription's name",
    "position": "the parked event's position in the log",
    "delivery_id": "a notification delivery: <log position>:<channel>",
}
NO_SUCH_THING = Refusal(404, "nothing has that name or id")


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


@dataclass(frozen=True, kw_only=True)
class Query:
    """A query parameter an operation declares: its name, what it means, its JSON type."""

    name: str
    description: str
    required: bool = False

    @property
    def schema(self) -> Any:
        """The type whose JSON Schema the document gives the parameter."""
        return str


@dataclass(frozen=True, kw_only=True)
class Text(Query):
    """A string of printable characters."""

    min_length: int = 1
    max_length: int = 200

    @property
    def schema(self) -> Any:
        """A string of `min_length` to `max_length` characters."""
        return Annotated[str, Field(min_length=self.min_length, max_length=self.max_length)]

    def read(self, request: web.Request) -> str | None:
        """The value, or None when absent."""
        value = request.query.get(self.name)
        if value is None:
            return None
        fits = self.min_length <= len(value) <= self.max_length
        if not fits or not value.isprintable():
            raise invalid(
                self.name,
                f"expected {self.min_length} to {self.max_length} printable characters",
            )
        return value


@dataclass(frozen=True, kw_only=True)
class Integer(Query):
    """An integer within [low, high]."""

    low: int = 0
    high: int = MAX_POSITION
    default: int | None = None

    @property
    def schema(self) -> Any:
        """An integer within the bounds."""
        return Annotated[int, Field(ge=self.low, le=self.high)]

    def read(self, request: web.Request) -> int | None:
        """The value, else the default."""
        value = request.query.get(self.name)
        if value is None:
            return self.default
        if not DIGITS.fullmatch(value) or not self.low <= int(value) <= self.high:
            raise invalid(self.name, f"expected an integer from {self.low} to {self.high}")
        return int(value)


def parse_time(value: str, name: str) -> datetime:
    """An RFC 3339 / ISO 8601 time; naive times are UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(name, "expected an RFC 3339 time such as 2026-11-26T08:00:00Z") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Time(Query):
    """An RFC 3339 time."""

    @property
    def schema(self) -> Any:
        """A date-time string."""
        return datetime

    def read(self, request: web.Request) -> datetime | None:
        """The time, or None when absent."""
        value = request.query.get(self.name)
        return None if value is None else parse_time(value, self.name)


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


@dataclass(frozen=True, kw_only=True)
class MomentQuery(Query):
    """A time or a log position (`1234` or `position:1234` for a position)."""

    @property
    def schema(self) -> Any:
        """A string: an RFC 3339 time, or a log position."""
        return Annotated[str, Field(description="an RFC 3339 time, or a log position")]

    def read(self, request: web.Request) -> Moment | None:
        """The moment, or None when absent (422 when absent and required)."""
        value = request.query.get(self.name)
        if value is None or value == "":
            if self.required:
                raise invalid(self.name, "required: a time or a log position")
            return None
        return parse_moment(value, self.name)


def parse_moment(value: str, name: str) -> Moment:
    """A log position (`1234` or `position:1234`) or an RFC 3339 time; 422 naming `name`."""
    raw = value.removeprefix("position:")
    if raw.isascii() and raw.isdigit():
        if not DIGITS.fullmatch(raw) or int(raw) > MAX_POSITION:
            raise invalid(name, "position out of range")
        return Moment(position=int(raw))
    return Moment(at=parse_time(value, name))


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a query parameter the operation does not declare."""
    found = operation_of(request.match_info.handler)
    if found is not None:
        declared = {q.name for q in found.query}
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


def path_part(request: web.Request, name: str, pattern: re.Pattern[str], what: str) -> str:
    """A path parameter; one that cannot name anything (bad shape, NUL) is a 404 up front."""
    value = request.match_info[name]
    if not pattern.fullmatch(value):
        raise Problem(404, "not-found", f"{what} not found", detail=f"there is no {what} {value!r}")
    return value


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SHA = re.compile(r"[0-9a-f]{7,64}")
ID = re.compile(r"[!-~]{1,200}")  # printable ASCII, no spaces: ids baton or clients make


@dataclass(frozen=True, kw_only=True)
class Choice(Query):
    """One of a fixed set of words."""

    choices: tuple[str, ...]

    @property
    def schema(self) -> Any:
        """A string among the choices."""
        return Literal[self.choices]

    def read(self, request: web.Request) -> str | None:
        """The value, or None when absent."""
        value = request.query.get(self.name)
        if value is None:
            return None
        if value not in self.choices:
            raise invalid(self.name, f"expected one of {', '.join(self.choices)}")
        return value
