"""Explain health verdicts for the console: which rule decided each object, and why.

Where it sits: `POST /health/explain` answers what `baton health explain` prints
(`engine.health.explain`), with the user's checks of the environments config, which
`checks_ctx` compiles when the app starts. A config that does not load leaves the
built-in rules (the server's start-up has already refused such a config).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from api.auth import Role
from api.guard import require
from api.keys import HEALTH_CHECKS, SETTINGS
from api.render import json_response
from api.schemas import HealthExplain, read_body
from engine.config.loader import ConfigError, load_environments
from engine.health.explain import explain

log = logging.getLogger(__name__)


async def checks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Compile the config's health checks for the app's lifetime."""
    directory = app[SETTINGS].environments_dir
    app[HEALTH_CHECKS] = None
    if directory.is_dir():
        try:
            app[HEALTH_CHECKS] = load_environments(directory).health
        except ConfigError as exc:
            log.warning("health explain uses the built-in rules only: %s", exc)
    yield


async def explain_health(request: web.Request) -> web.Response:
    """POST /health/explain: verdict, message and rule of each object."""
    require(request, Role.VIEWER)
    body = await read_body(request, HealthExplain)
    rows = explain(body.objects, request.app[HEALTH_CHECKS])
    return json_response({"items": [row.as_json() for row in rows]})
