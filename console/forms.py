"""Reading a console page's GET form: an empty field is an absent one, and a value that
is not valid is a 422 page naming its field, as the API's parameters are.

Where it sits: under the console's views. A browser's form sends every field, the empty
ones too; the API's parameters (`api.params`) refuse an empty value, so the console reads
its forms here and checks each value by the same rules.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from aiohttp import web

from api import params


def text(request: web.Request, name: str, *, max_length: int = 200) -> str | None:
    """A field's printable text (surrounding blanks dropped), or None when empty."""
    value = request.query.get(name, "").strip()
    if not value:
        return None
    if len(value) > max_length or not value.isprintable():
        raise params.invalid(name, f"expected 1 to {max_length} printable characters")
    return value


def choice(request: web.Request, name: str, choices: Collection[str]) -> str | None:
    """One of `choices`, or None when empty."""
    value = text(request, name)
    if value is not None and value not in choices:
        raise params.invalid(name, "not one of the choices offered")
    return value


def position(request: web.Request, name: str, *, low: int = 0) -> int | None:
    """A log position, or None when empty."""
    value = text(request, name)
    if value is None:
        return None
    if not params.DIGITS.fullmatch(value) or not low <= int(value) <= params.MAX_POSITION:
        raise params.invalid(name, f"expected a log position (an integer from {low})")
    return int(value)


def time(request: web.Request, name: str) -> datetime | None:
    """A time (`datetime-local` sends one without a zone: UTC), or None when empty."""
    value = text(request, name)
    return None if value is None else params.parse_time(value, name)


def moment(request: web.Request, name: str) -> params.Moment | None:
    """A log position or a time, or None when empty."""
    value = text(request, name)
    if value is None:
        return None
    return params.parse_moment(value, name)


def local(value: datetime | None) -> str:
    """A time as a `datetime-local` input shows it (UTC, to the second)."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
