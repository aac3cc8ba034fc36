"""The Git watcher in the API process, so that a push webhook polls at once.

Where it sits: an optional `cleanup_ctx` of `init_app()` (`ApiConfig.watch_git`, or
`baton serve --watch`). It loads the environments config, runs the watcher as a named
task through the API's own repository, and hands the webhook a trigger that wakes the
apps a push names. Without it the webhook uses `ApiConfig.poll_now` (whoever runs the
watcher elsewhere may set it) and otherwise answers that it triggered nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from api.gitpoll import watcher_trigger
from api.keys import CONFIG, POLL_TRIGGER, PROMOTIONS, SETTINGS
from engine.config.loader import load_environments
from engine.releases import build_watcher

log = logging.getLogger(__name__)
_STOP_TIMEOUT_S = 5.0


async def watcher_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the watcher while the API runs, when configured to."""
    config = app[CONFIG]
    app[POLL_TRIGGER] = config.poll_now
    if not config.watch_git:
        yield
        return
    settings = app[SETTINGS]
    # a broken config stops the start-up with the loader's message (file, line, key)
    loaded = load_environments(settings.environments_dir)
    watcher = build_watcher(loaded, settings=settings, repository=app[PROMOTIONS].repository)
    app[POLL_TRIGGER] = watcher_trigger(watcher, loaded.apps)
    task = asyncio.create_task(watcher.run(), name="git-watcher")
    try:
        yield
    finally:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=_STOP_TIMEOUT_S)
        if not done:
            log.warning("the Git watcher did not stop within %ss", _STOP_TIMEOUT_S)
