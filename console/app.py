"""`setup(app)`: mount the console on the API application (same process, same roles).

Where it sits: called by `baton serve` after `api.app.init_app()`, before the app starts.
It adds the console's routes at `/`, its templates and static files, the error pages and
security headers of everything outside `/api/v1/`, the session table's handle, and the
live tail every open page follows (a supervised task, like every background task).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from api import reads
from api.auth import Role
from api.keys import DATABASE, SUPERVISOR
from console.config import ConsoleConfig
from console.keys import CONSOLE, HUB, SESSIONS
from console.live import READ_MODEL_WAIT_S, LiveHub
from console.pages import page_errors, security_headers
from console.views import (
    apps,
    audit,
    changes,
    docs,
    insights,
    live,
    pipelines,
    promotion,
    session,
    timetravel,
)
from console.views.static import StaticFiles
from engine.domain.ids import short_sha
from engine.domain.policy import format_duration
from engine.store.sessions import Sessions
from engine.supervisor import Restart

_HERE = Path(__file__).parent
LIVE_TASK = "console-live"


def _ago(value: datetime | None) -> str:
    """'4m ago' (or 'in 4m') of a time, to the largest unit."""
    if value is None:
        return ""
    seconds = (datetime.now(UTC) - value).total_seconds()
    later = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if seconds >= size or size == 1:
            text = f"{int(seconds // size)}{unit}"
            return f"in {text}" if later else f"{text} ago"
    return ""


def _when(value: datetime | None) -> Markup:
    """A time as a `<time>` element: UTC with its zone, the age beside it on hover."""
    if value is None:
        return Markup("")
    utc = value.astimezone(UTC)
    # every part is made here of digits, letters and punctuation: nothing to escape
    return Markup(
        f'<time datetime="{utc.isoformat()}" title="{_ago(value)}">'
        f"{utc:%Y-%m-%d %H:%M:%S} UTC</time>"
    )


def _duration(value: timedelta | float | None) -> str:
    if value is None:
        return ""
    if not isinstance(value, timedelta):
        value = timedelta(seconds=value)
    return format_duration(timedelta(seconds=round(value.total_seconds())))


def _environment() -> dict[str, object]:
    return {"short": lambda sha: short_sha(sha) if sha else "", "Role": Role}


async def _live_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sessions' table and the live tail, on the database the API opened."""
    store = app[DATABASE].store
    app[SESSIONS] = Sessions(store.pool)
    hub = LiveHub(
        store, lambda position: reads.read_models_reach(app, position, within=READ_MODEL_WAIT_S)
    )
    app[HUB] = hub
    app[SUPERVISOR].start(LIVE_TASK, hub.run, restart=Restart.ALWAYS)
    try:
        yield
    finally:
        await app[SUPERVISOR].remove(LIVE_TASK)


def setup(app: web.Application, config: ConsoleConfig | None = None) -> None:
    """Mount the console on `app` (an `api.app.init_app()` application not yet started)."""
    app[CONSOLE] = config or ConsoleConfig.from_env()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # templates change with baton's version only: no look at their files per render
        auto_reload=False,
    )
    env.filters.update(ago=_ago, when=_when, duration=_duration)
    env.globals.update(_environment())
    static = StaticFiles(_HERE / "static")
    env.globals["static"] = static.url
    app.middlewares.append(page_errors)
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_live_ctx)
    r = app.router
    r.add_get("/", pipelines.pipelines, name="console_pipelines")
    r.add_get("/pipelines/rows", pipelines.pipeline_rows, name="console_pipeline_rows")
    r.add_get("/apps/{app}", apps.app_page, name="console_app")
    r.add_get("/apps/{app}/pipeline", apps.app_pipeline, name="console_app_pipeline")
    r.add_get("/apps/{app}/promote", changes.promote_preview, name="console_promote_preview")
    r.add_post("/apps/{app}/promote", changes.promote, name="console_promote")
    r.add_get("/apps/{app}/rollback", changes.rollback_preview, name="console_rollback_preview")
    r.add_post("/apps/{app}/rollback", changes.rollback, name="console_rollback")
    r.add_get("/promotions/{promotion_id}", promotion.promotion, name="console_promotion")
    r.add_get("/promotions/{promotion_id}/parts", promotion.parts, name="console_promotion_parts")
    r.add_post(
        "/promotions/{promotion_id}/approve", promotion.approve, name="console_promotion_approve"
    )
    r.add_post(
        "/promotions/{promotion_id}/reject", promotion.reject, name="console_promotion_reject"
    )
    r.add_get("/sign-in", session.sign_in_form, name="console_sign_in_form")
    r.add_post("/sign-in", session.sign_in, name="console_sign_in")
    r.add_post("/sign-out", session.sign_out, name="console_sign_out")
    r.add_get("/live", live.live, name="console_live")
    r.add_get("/audit", audit.audit, name="console_audit")
    r.add_get("/audit.jsonl", audit.audit_jsonl, name="console_audit_jsonl")
    r.add_get("/audit.csv", audit.audit_csv, name="console_audit_csv")
    r.add_post("/audit/verify", audit.verify_now, name="console_audit_verify")
    r.add_get("/audit/{position}", audit.audit_event, name="console_audit_event")
    r.add_get("/time-travel", timetravel.time_travel, name="console_time_travel")
    r.add_get("/insights", insights.insights, name="console_insights")
    r.add_get("/api/docs", docs.api_docs, name="console_api_docs")
    r.add_get("/static/{name}", static.view(), name="console_static")
