"""Reload the environments config of the running process: `POST /admin/config/reload`.

Where it sits: the HTTP trigger of `engine.config.reload` (SIGHUP is the other). `baton
serve` hands `init_app()` the process's reloader, with the watcher and the appliers among
its parts; an app started alone (tests, embedded) gets one of its own in `reloader_ctx`.
Either way the reloader holds the config the API reads its health checks from.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from api.auth import Role
from api.errors import Problem, Refusal
from api.guard import require
from api.keys import PROMOTIONS, RELOADER, SETTINGS
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import ConfigReload
from engine.config.loader import ConfigError, EnvironmentsConfig, load_environments
from engine.config.reload import ConfigReloader

log = logging.getLogger(__name__)


async def reloader_ctx(app: web.Application) -> AsyncIterator[None]:
    """Give the app a reloader of its own unless `baton serve` handed it the process's."""
    if RELOADER not in app:
        directory = app[SETTINGS].environments_dir
        config: EnvironmentsConfig | None = None
        if directory.is_dir():
            try:
                config = load_environments(directory)
            except ConfigError as exc:  # `baton serve` refuses such a config at start
                log.warning("health explain uses the built-in rules only: %s", exc)
        app[RELOADER] = ConfigReloader(
            directory=directory, repository=app[PROMOTIONS].repository, config=config
        )
    yield


@Operation(
    tag="admin",
    answers=[json_answer(ConfigReload, "what changed")],
    refusals=[Refusal(422, "the environments config has problems (see `problems`)")],
)
async def reload_config(request: web.Request) -> web.Response:
    """Reload the environments config of this process (all or nothing)."""
    require(request, Role.ADMIN)
    try:
        outcome = await request.app[RELOADER].reload()
    except ConfigError as exc:
        raise Problem(
            422,
            "invalid-config",
            "The environments config has problems; nothing was applied",
            detail="\n".join(str(p) for p in exc.problems),
            errors=[
                {"field": f"{p.file}:{p.line}: {p.key}", "message": p.message} for p in exc.problems
            ],
            problems=[str(p) for p in exc.problems],
        ) from None
    return json_response(outcome.as_json())
