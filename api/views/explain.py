"""Explain health verdicts for the console: which rule decided each object, and why.

Where it sits: `POST /health/explain` answers what `baton health explain` prints
(`engine.health.explain`), with the user's checks of the environments config the process
runs on now (`api.views.config`: loaded at start, replaced by a reload).
"""

from __future__ import annotations

from aiohttp import web

from api.auth import Role
from api.guard import require
from api.keys import RELOADER
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import HealthExplanation
from api.schemas import HealthExplain, read_body
from engine.health.explain import explain


@Operation(
    tag="health",
    body=HealthExplain,
    answers=[json_answer(HealthExplanation, "one row per object")],
)
async def explain_health(request: web.Request) -> web.Response:
    """The health verdict of each object, its message and the rule that gave it."""
    require(request, Role.VIEWER)
    body = await read_body(request, HealthExplain)
    config = request.app[RELOADER].config
    checks = config.health if config is not None else None
    rows = explain(body.objects, checks)
    return json_response({"items": [row.as_json() for row in rows]})
