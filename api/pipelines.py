"""Each app's pipeline (environment order and policies), cached per version of the app.

Where it sits: under the read views. The read models hold targets but not the app's
configuration; loading the App aggregate for every request would replay all its releases,
so the pipeline is kept here and reloaded only when the app's stream has moved on. The
stream's version is looked up at most once a second per app, for every app a request
shows in one query: a pipeline shown a second late is harmless (commands never use this
cache; they load the App aggregate).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.domain.ids import app_stream
from engine.domain.pipeline import AppSpec
from engine.promotions import Promotions

_RECHECK_S = 1.0
_LOADS = 4
_WARM_PAGE = 100


@dataclass(frozen=True)
class _Entry:
    version: int
    pipeline: AppSpec
    source: dict[str, Any]
    checked_at: float


class PipelineCache:
    """App name → its pipeline as of the app stream's latest version."""

    def __init__(self, promotions: Promotions) -> None:
        self._promotions = promotions
        self._entries: dict[str, _Entry] = {}
        #: aggregate loads at once (each holds a connection of the API's pool)
        self._loads = asyncio.Semaphore(_LOADS)

    async def get(self, app: str) -> tuple[AppSpec, dict[str, Any]] | None:
        """(pipeline, Git source) of `app`, or None when no such app is registered."""
        return (await self.get_many([app]))[app]

    async def get_many(
        self, apps: Sequence[str]
    ) -> dict[str, tuple[AppSpec, dict[str, Any]] | None]:
        """`get` for each of `apps`, with one look at the log for all the stale ones."""
        now = time.monotonic()
        stale = [a for a in apps if not self._fresh(a, now)]
        if stale:
            store = self._promotions.repository.store
            versions = await store.stream_versions([app_stream(a) for a in stale])
            # a page of apps not seen yet loads its aggregates side by side, a few at a time
            await asyncio.gather(
                *(
                    self._refresh(app, version, now)
                    for app, version in zip(stale, versions, strict=True)
                )
            )
        found: dict[str, tuple[AppSpec, dict[str, Any]] | None] = {}
        for app in apps:
            entry = self._entries.get(app)
            found[app] = None if entry is None else (entry.pipeline, entry.source)
        return found

    def _fresh(self, app: str, now: float) -> bool:
        entry = self._entries.get(app)
        return entry is not None and now - entry.checked_at < _RECHECK_S

    async def warm(self, apps: Sequence[str]) -> None:
        """Load the pipelines of `apps` now, a page at a time, so that no reader waits for
        them later (run once when the API starts)."""
        for start in range(0, len(apps), _WARM_PAGE):
            await self.get_many(apps[start : start + _WARM_PAGE])

    async def _refresh(self, app: str, version: int, now: float) -> None:
        entry = self._entries.get(app)
        if version == 0:
            self._entries.pop(app, None)
            return
        if entry is None or entry.version != version:
            async with self._loads:
                aggregate = await self._promotions.app(app)
            config = aggregate.config
            source: dict[str, Any] = {
                k: config[k] for k in ("repo", "branch", "path") if k in config
            }
            entry = _Entry(version, aggregate.spec, source, now)
        else:
            entry = _Entry(entry.version, entry.pipeline, entry.source, now)
        self._entries[app] = entry
