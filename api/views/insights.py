"""DORA insights: deployment frequency, lead time, change failure rate and time to
restore, per app and environment, over a window of the log.

Where it sits: read side, over the log (`api.reads.dora`, `projections.insights`); the
definitions of the four keys are in `projections.dora`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from api import params, reads
from api.auth import Role
from api.errors import Refusal, not_found
from api.guard import require
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import Insights
from projections.dora import Bucket, Window

#: the window when none is asked for: the last 30 days
DEFAULT_WINDOW = timedelta(days=30)
#: the longest window one request may ask for
MAX_WINDOW = timedelta(days=731)
#: the times a window may reach: far enough from the ends of the calendar that its
#: defaults and buckets stay on it
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

APP = params.Text(name="app", description="only this app (404 when there is no such app)")
ENVIRONMENT = params.Text(name="environment", description="only this environment")
SINCE = params.Time(name="since", description="the window's start (default: 30 days before until)")
UNTIL = params.Time(name="until", description="the window's end, excluded (default: now)")
BUCKET = params.Choice(
    name="bucket",
    description="the series' step (default: day for a window of 31 days or less, else week)",
    choices=tuple(b.value for b in Bucket),
)
UNKNOWN_TARGET = Refusal(404, "no such app, or no such environment of it")


def window_of(request: web.Request, *, now: datetime | None = None) -> Window:
    """The window asked for, with its defaults; 422 naming the parameter at fault."""
    since, until = SINCE.read(request), UNTIL.read(request)
    for name, value in (("since", since), ("until", until)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise params.invalid(name, f"expected a time from {EARLIEST:%Y} to {LATEST:%Y}")
    if until is None:
        until = now or datetime.now(UTC)
    if since is None:
        since = until - DEFAULT_WINDOW
    if since >= until:
        raise params.invalid("since", "must be before until")
    if until - since > MAX_WINDOW:
        raise params.invalid("since", f"the window is at most {MAX_WINDOW.days} days")
    bucket = BUCKET.read(request)
    return Window(
        since=since,
        until=until,
        bucket=Bucket(bucket) if bucket else Bucket.default_for(since, until),
    )


@Operation(
    tag="insights",
    answers=[json_answer(Insights, "the four keys per target")],
    query=[APP, ENVIRONMENT, SINCE, UNTIL, BUCKET],
    refusals=[UNKNOWN_TARGET],
)
async def get_insights(request: web.Request) -> web.Response:
    """The four DORA keys per app and environment, over a window (default: 30 days).

    Deployment frequency, lead time from commit to verification, change failure rate and
    time to restore, in total and per day or week, computed from the log.
    """
    require(request, Role.VIEWER)
    app, environment = APP.read(request), ENVIRONMENT.read(request)
    window = window_of(request)
    items = await reads.dora(request.app, name=app, environment=environment, window=window)
    if items is None:
        what = f"app {app}" if environment is None else f"environment {environment}"
        raise not_found("app" if environment is None else "environment", f"there is no {what}")
    return json_response(
        {
            "since": window.since,
            "until": window.until,
            "bucket": window.bucket.value,
            "items": items,
        }
    )
