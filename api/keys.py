"""Typed keys of what the application and each request hold.

Where it sits: shared by `api.app` (which fills them) and the views (which read them).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.auth import Principal
from api.config import ApiConfig, PollTrigger
from api.jobs import JobRegistry
from api.pipelines import PipelineCache
from engine.config.reload import ConfigReloader
from engine.preview import Previewer
from engine.promotions import Promotions
from engine.runtime import Database
from engine.settings import Settings
from engine.store.database import Pool
from engine.store.idempotency import IdempotencyKeys
from engine.supervisor import Supervisor
from projections.runner import ProjectionRunner

CONFIG = web.AppKey("config", ApiConfig)
DATABASE = web.AppKey("database", Database)
#: connections for the read views' queries only (see `create_pool(reads_only=True)`)
READS = web.AppKey("reads", Pool)
PROMOTIONS = web.AppKey("promotions", Promotions)
#: previews of promotions and rollbacks (the rules, the manifest diff, a dry run)
PREVIEWER = web.AppKey("previewer", Previewer)
IDEMPOTENCY = web.AppKey("idempotency", IdempotencyKeys)
JOBS = web.AppKey("jobs", JobRegistry)
PIPELINES = web.AppKey("pipelines", PipelineCache)
SETTINGS = web.AppKey("settings", Settings)
#: what the Git webhook calls (the in-process watcher's, ApiConfig.poll_now, or None)
POLL_TRIGGER: web.AppKey[PollTrigger | None] = web.AppKey("poll_trigger")
#: free slots for live tails (see ApiConfig.max_streams)
STREAM_SLOTS = web.AppKey("stream_slots", asyncio.Semaphore)
#: set when the server starts to shut down: live tails end rather than hold up the exit
STOPPING = web.AppKey("stopping", asyncio.Event)
#: the process's one supervisor of background tasks (the projections, the Git watcher, ...)
SUPERVISOR = web.AppKey("supervisor", Supervisor)
#: the projection runner, when this process runs one
RUNNER: web.AppKey[ProjectionRunner | None] = web.AppKey("runner")

#: the environments config this process runs on, and the way to reload it
RELOADER = web.AppKey("reloader", ConfigReloader)

#: who is calling (set by the auth middleware)
PRINCIPAL = web.RequestKey("principal", Principal)
