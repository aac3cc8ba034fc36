"""Reads the views need: read models from `projections`, with the log as a fallback where a
client must see its own write at once.

Where it sits: between the read views and the read models. Each function takes a
connection from the application's pool and returns JSON-ready dicts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from api.errors import Problem
from api.keys import PROMOTIONS, RUNNER
from api.params import Moment
from api.render import promotion_json
from engine.domain import errors


async def promotion(app: web.Application, promotion_id: str) -> dict[str, Any] | None:
    """A promotion by id; None when no target ever had it."""
    promotions = app[PROMOTIONS]
    try:
        app_name, environment = await promotions.locate(promotion_id)
    except errors.UnknownPromotion:
        return None
    target = await promotions.target(app_name, environment)
    if target is None or target.promotion is None or target.promotion.id != promotion_id:
        return None
    return promotion_json(app_name, environment, target.promotion)


@dataclass(frozen=True, kw_only=True)
class EventFilter:
    """Filters of the audit log."""

    app: str | None = None
    environment: str | None = None
    actor: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _unavailable() -> Problem:
    return Problem(503, "projections-unavailable", "Read models are not available",
                   detail="this build has no projections package yet")


async def apps(app: web.Application) -> list[dict[str, Any]]:
    """Every app with its environments."""
    raise _unavailable()


async def app(app: web.Application, name: str) -> dict[str, Any] | None:
    """One app's pipeline, or None."""
    raise _unavailable()


async def releases(
    app: web.Application, name: str, *, limit: int, before: int | None
) -> dict[str, Any] | None:
    """A page of an app's releases, or None when there is no such app."""
    raise _unavailable()


async def lineage(app: web.Application, name: str, sha: str) -> dict[str, Any] | None:
    """A release's lineage, or None."""
    raise _unavailable()


async def events_page(
    app: web.Application, filters: EventFilter, *, limit: int, before: int | None,
    after: int | None,
) -> dict[str, Any]:
    """One page of the audit log and the cursor of the next."""
    raise _unavailable()


async def iter_events(
    app: web.Application, filters: EventFilter, *, before: int | None, after: int | None
) -> AsyncIterator[dict[str, Any]]:
    """Every matching event, page after page."""
    raise _unavailable()
    yield {}


async def state(app: web.Application, moment: Moment | None) -> dict[str, Any]:
    """State of every target at a moment."""
    raise _unavailable()


async def diff(app: web.Application, start: Moment, end: Moment | None) -> dict[str, Any]:
    """Changes between two moments."""
    raise _unavailable()


def rebuild_work(app: web.Application, names: list[str] | None) -> Callable[[], Awaitable[Any]]:
    """The coroutine function a replay job runs."""
    raise _unavailable()


async def projection_status(app: web.Application) -> dict[str, Any]:
    """Checkpoints and lag of every projection."""
    raise _unavailable()


async def projections_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the projection runner in this process when configured to."""
    app[RUNNER] = None
    yield
