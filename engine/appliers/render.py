"""Rendering the desired release for an environment, for the appliers.

Where it sits: the observe phase of a worker asks a :class:`Renderer` for the objects of
the target's desired release. :class:`GitRenderer` reads the release from the app's
mirror (``engine.git.manifests.render_release``, blocking, so in a thread with a
timeout) and keeps the result: a release never changes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Protocol

from engine.backoff import retry
from engine.domain.pipeline import AppSpec
from engine.git.manifests import render_release
from engine.git.mirror import GitSourceError
from engine.render import Rendered

_ATTEMPTS = 5


class Renderer(Protocol):
    """Turns (app, release, environment) into the objects to apply."""

    async def render(self, app: AppSpec, sha: str, environment: str) -> Rendered:
        """The rendered objects in apply order."""
        ...


class GitRenderer:
    """Renders releases from the mirrors under ``home`` and remembers the results."""

    def __init__(self, home: Path, *, timeout: float = 60.0, keep: int = 4096) -> None:
        self.home = home
        self.timeout = timeout
        self.keep = keep
        self._done: dict[tuple[str, str, str], Rendered] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def rendered(self, app: str, sha: str, environment: str) -> bool:
        """Whether that release is rendered already (so applying it reads no Git)."""
        return (app, sha, environment) in self._done

    async def render(self, app: AppSpec, sha: str, environment: str) -> Rendered:
        """Render once per (app, sha, environment)."""
        key = (app.name, sha, environment)
        # opening a mirror rewrites its config: one render per mirror at a time, and a
        # retry when another process (the watcher) holds the config lock

        async def attempt() -> Rendered:
            if key not in self._done:
                rendered = await asyncio.wait_for(
                    asyncio.to_thread(
                        render_release, home=self.home, app=app, sha=sha, environment=environment
                    ),
                    timeout=self.timeout,
                )
                if len(self._done) >= self.keep:
                    self._done.pop(next(iter(self._done)))
                self._done[key] = rendered
            return self._done[key]

        async with self._locks[app.name]:
            return await retry(
                attempt, attempts=_ATTEMPTS, on=_met_a_lock, wait=lambda n, _: 0.05 * n
            )


def _met_a_lock(exc: BaseException) -> bool:
    """Git refused because another process holds the mirror's config lock."""
    return isinstance(exc, GitSourceError) and "lock" in str(exc).lower()
