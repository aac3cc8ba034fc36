"""Watches that keep a cluster's live cache current: one per kind baton applies there.

Where it sits: the observe phase, beside ``cache.py``. The appliers service starts one
supervised task per cluster × kind (``appliers-watch:<cluster>:<apiVersion>/<kind>``) once
the cache has listed the kind. Each follows the kind's events (baton's objects only, by
its label) after the last resourceVersion the cache saw, bookmarks moving it on while
nothing changes, and hands them to the cache, which wakes the workers that own the
objects: a rollout's last ready replica reaches its worker in one event, not at the next
health interval. A stream the server ends is opened again where it left off; a 410 Gone
(the server no longer keeps that version) lists the kind again and watches from the
list. Any other failure raises, and the supervisor starts the task again with backoff,
resuming from the same version. The sweeps' relists stay, as the safety net.
"""

from __future__ import annotations

import asyncio
import logging
import random

from engine.appliers.cache import Kind, LiveCache
from engine.appliers.objects import OWNED_SELECTOR
from engine.kube import KubeError

log = logging.getLogger(__name__)
_BRIEF = 1.0  # seconds: a stream the server ends sooner is opened again after a pause
_PAUSE = 0.1  # seconds: that pause (a server that ends every stream at once is not hammered)


async def follow(cache: LiveCache, kind: Kind, *, timeout_seconds: float) -> None:
    """Keep `kind` current in `cache` until cancelled; raises on what a restart may cure."""
    api_version, name = kind
    loop = asyncio.get_running_loop()
    while True:
        version = cache.resource_version(kind)
        if version is None:
            await cache.relist(kind)
            version = cache.resource_version(kind) or ""
        # spread over 1-2× so that many streams do not all end together (as client-go)
        seconds = timeout_seconds * random.uniform(1.0, 2.0)
        opened = loop.time()
        cache.watching(kind, on=True)
        try:
            async for event in cache.client.watch(
                api_version,
                name,
                label_selector=OWNED_SELECTOR,
                resource_version=version,
                timeout_seconds=seconds,
            ):
                cache.observe(kind, event)
        except KubeError as exc:
            if not exc.is_gone:
                raise
            log.info("appliers: %s in %s: %s; listing again", name, cache.client.name, exc)
            cache.forget_version(kind)
            continue
        finally:
            cache.watching(kind, on=False)
        if loop.time() - opened < _BRIEF:
            await asyncio.sleep(_PAUSE)
