"""The application factory: `init_app()` builds the aiohttp app with its resources.

Where it sits: the composition root of the HTTP side. The database (pool, event store,
migrations), the promotion service, the idempotency table, the job registry and — when
this process runs them — the projections and the Git watcher are opened and closed as
`cleanup_ctx` generators, in that order, so shutdown runs in reverse. Background tasks run
on the process's supervisor (`SUPERVISOR`): the one `baton serve` hands in, else one of
the app's own, stopped last.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import web

from api.config import ApiConfig
from api.errors import problem_middleware
from api.guard import auth_middleware
from api.idempotency import idempotency_middleware
from api.jobs import JobRegistry
from api.keys import (
    CONFIG,
    DATABASE,
    IDEMPOTENCY,
    JOBS,
    PIPELINES,
    PROMOTIONS,
    READS,
    RELOADER,
    RUNNER,
    SETTINGS,
    STOPPING,
    STREAM_SLOTS,
    SUPERVISOR,
)
from api.params import query_middleware
from api.pipelines import PipelineCache
from api.reads import app_names, projections_ctx
from api.routes import setup_routes
from api.tracing import instrument_app
from api.views.config import reloader_ctx
from api.views.previews import previewer_ctx
from api.watching import watcher_ctx
from engine.config.reload import ConfigReloader
from engine.promotions import Promotions
from engine.repository import Repository
from engine.runtime import open_database
from engine.settings import Settings
from engine.store.database import create_pool
from engine.store.idempotency import IdempotencyKeys
from engine.supervisor import Supervisor

#: the one-off task that loads every app's pipeline when the API starts
PIPELINES_WARM = "pipelines-warm"


def _database_ctx(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        async with open_database(settings, max_size=app[CONFIG].pool_size) as db:
            app[DATABASE] = db
            app[READS] = await create_pool(
                db.url, min_size=1, max_size=app[CONFIG].pool_size, reads_only=True
            )
            app[PROMOTIONS] = Promotions(Repository(db.store))
            app[PIPELINES] = PipelineCache(app[PROMOTIONS])
            app[IDEMPOTENCY] = IdempotencyKeys(db.store.pool)
            try:
                yield
            finally:
                await app[READS].close()

    return database


async def _start_warming(app: web.Application) -> None:
    # after every context has started: on a new database the projection runner creates the
    # tables the pipelines are read from, and a warming started before it fails at first
    app[SUPERVISOR].start(PIPELINES_WARM, partial(_warm_pipelines, app))


async def _warm_pipelines(app: web.Application) -> None:
    """Every app's pipeline into the cache, once: the first page of apps is then no slower
    than the next."""
    await app[PIPELINES].warm(await app_names(app))


async def _jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    app[JOBS] = JobRegistry(app[DATABASE].store.pool)
    yield
    await app[JOBS].close()


async def _end_live_tails(app: web.Application) -> None:
    """On shutdown, before the requests in flight are waited for: a tail never ends by itself."""
    app[STOPPING].set()


async def _supervisor_ctx(app: web.Application) -> AsyncIterator[None]:
    """Stop the app's own supervisor after every other context has stopped its tasks."""
    yield
    await app[SUPERVISOR].stop()


def init_app(
    *,
    settings: Settings | None = None,
    config: ApiConfig | None = None,
    supervisor: Supervisor | None = None,
    reloader: ConfigReloader | None = None,
) -> web.Application:
    """The API application; resources open when it starts and close when it stops.

    Its background tasks run on `supervisor` (its owner stops it), else on one of its own;
    `reloader` (`baton serve`'s) reloads the config of the whole process, else the app
    builds one that reloads what the app itself runs.
    """
    config = config or ApiConfig.from_env()
    app = web.Application(
        middlewares=[problem_middleware, auth_middleware, query_middleware, idempotency_middleware],
        client_max_size=config.max_body_bytes,
    )
    app[CONFIG] = config
    app[RUNNER] = None
    app[STREAM_SLOTS] = asyncio.Semaphore(config.max_streams)
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(_end_live_tails)
    settings = settings or Settings.from_env()
    app[SETTINGS] = settings
    app[SUPERVISOR] = supervisor or Supervisor()
    if reloader is not None:
        app[RELOADER] = reloader
    if supervisor is None:
        app.cleanup_ctx.append(_supervisor_ctx)
    app.cleanup_ctx.append(_database_ctx(settings))
    app.cleanup_ctx.append(previewer_ctx)
    app.cleanup_ctx.append(_jobs_ctx)
    app.cleanup_ctx.append(projections_ctx)
    app.cleanup_ctx.append(watcher_ctx)
    app.cleanup_ctx.append(reloader_ctx)
    # cleanup contexts start as the first startup handler: this one runs after them all
    app.on_startup.append(_start_warming)
    setup_routes(app)
    instrument_app(app)
    return app
