"""What the webhook wakes: the Git watcher in the API process, or the one elsewhere.

Where it sits: a `cleanup_ctx` of `init_app()`. With `ApiConfig.watch_git` (`baton serve
--watch`) it loads the environments config, runs the watcher on the app's supervisor through the
API's own repository, listens for the wake-ups other processes publish, and hands the
webhook a trigger that wakes the pushed apps directly. Otherwise the webhook uses
`ApiConfig.poll_now` (set by a process that runs the watcher beside the API), or else
publishes the pushed apps through Postgres to whichever process runs the watcher.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from api.config import PollTrigger
from api.gitpoll import notify_trigger, watcher_trigger
from api.keys import CONFIG, DATABASE, POLL_TRIGGER, PROMOTIONS, SETTINGS, SUPERVISOR
from engine.config.loader import ConfigError, load_environments
from engine.git.wakeups import polls_on_notify
from engine.releases import build_watcher

log = logging.getLogger(__name__)


async def watcher_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the watcher while the API runs when configured to; else reach the one elsewhere."""
    config = app[CONFIG]
    if not config.watch_git:
        app[POLL_TRIGGER] = config.poll_now or _publisher(app)
        yield
        return
    async with _watching(app) as trigger:
        app[POLL_TRIGGER] = trigger
        yield


def _publisher(app: web.Application) -> PollTrigger | None:
    """A trigger that publishes the pushed apps, when webhooks are on and the config loads."""
    if not app[CONFIG].webhook_secret:
        return None  # the webhook answers 404 anyway: no need for the config
    try:
        loaded = load_environments(app[SETTINGS].environments_dir)
    except ConfigError as exc:
        # `baton serve` refuses to start without it: only an app embedded without one gets here
        log.warning("Git webhooks will wake no watcher: %s", exc)
        return None
    return notify_trigger(app[DATABASE].store.pool, loaded.apps)


@contextlib.asynccontextmanager
async def _watching(app: web.Application) -> AsyncIterator[PollTrigger]:
    settings = app[SETTINGS]
    # a broken config stops the start-up with the loader's message (file, line, key)
    loaded = load_environments(settings.environments_dir)
    watcher = build_watcher(loaded, settings=settings, repository=app[PROMOTIONS].repository)
    try:
        await watcher.start(app[SUPERVISOR])
        # other API processes on this database publish their webhooks' pushes
        async with polls_on_notify(app[DATABASE].store.pool, watcher):
            yield watcher_trigger(watcher, loaded.apps)
    finally:
        await watcher.stop()  # each app's loop waited for at most a few seconds
