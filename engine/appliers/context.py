"""What every worker of one appliers service shares: settings, store, clusters, caches.

Where it sits: built once by ``service.py`` and handed to each ``TargetWorker``; keeps the
workers' constructors short (one context object instead of a dozen parameters).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from engine.appliers.cache import Kind, LiveCache
from engine.appliers.render import Renderer
from engine.domain.policy import parse_duration
from engine.health import CustomChecks, rule_for
from engine.kube import Clusters
from engine.repository import Repository
from engine.store import EventStore
from engine.store.locks import AdvisoryLocks

APPLIER_ACTOR = "applier"
_OFF = frozenset({"0", "false", "no", "off"})


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class ApplierSettings:
    """How often the appliers look, and how patient they are."""

    drift_interval: float = 60.0  # seconds between drift-check sweeps of a cluster
    health_interval: float = 1.0  # seconds between health checks while a rollout is on
    lock_interval: float = 5.0  # seconds between lock checks (and tries for free targets)
    cluster_backoff: float = 5.0  # seconds before trying a cluster that did not answer
    store_timeout: float = 30.0  # seconds for one load or save in the event store
    concurrent_passes: int = 64  # passes run at once in a process (the rest queue)
    stop_grace: float = 5.0  # seconds a stopping sync gives the requests in flight
    watch: bool = True  # follow watches of the kinds baton applies (off: relists only)
    watch_timeout: float = 300.0  # seconds the server keeps one watch stream open

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApplierSettings:
        """BATON_DRIFT_INTERVAL, BATON_HEALTH_INTERVAL, BATON_LOCK_INTERVAL,
        BATON_STOP_GRACE (e.g. 60s); BATON_WATCH=false: no watches, relists only."""
        env = os.environ if environ is None else environ

        def seconds(name: str, default: float) -> float:
            text = env.get(name)
            return parse_duration(text).total_seconds() if text else default

        return cls(
            drift_interval=seconds("BATON_DRIFT_INTERVAL", 60.0),
            health_interval=seconds("BATON_HEALTH_INTERVAL", 1.0),
            lock_interval=seconds("BATON_LOCK_INTERVAL", 5.0),
            stop_grace=seconds("BATON_STOP_GRACE", 5.0),
            watch=env.get("BATON_WATCH", "true").strip().lower() not in _OFF,
        )


class LockLost(Exception):
    """This process no longer holds a target's lock: another may be working on it."""

    def __init__(self, stream: str) -> None:
        super().__init__(f"lost the lock of {stream}; stopping work on it")


class Stopping(Exception):
    """baton is stopping: a worker starts no more writes and closes the sync it is in."""

    def __init__(self) -> None:
        super().__init__("baton is stopping")


@dataclass(kw_only=True)
class WorkerContext:
    """Shared by the workers of one service."""

    store: EventStore
    repository: Repository
    clusters: Clusters
    renderer: Renderer
    settings: ApplierSettings
    locks: AdvisoryLocks | None = None
    clock: Callable[[], datetime] = utcnow
    caches: dict[str, LiveCache] = field(default_factory=dict)
    on_change: Callable[[list[dict[str, Any]]], None] | None = None
    on_kind: Callable[[str, Kind], None] | None = None  # (cluster, kind) first listed
    heads: dict[str, int] = field(default_factory=dict)  # stream → last version seen
    pass_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # see finish_syncs()
    checks: CustomChecks | None = None  # the user's health checks; a reload replaces them
    _cache_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def reads_status(self, api_version: str, kind: str) -> bool:
        """True when a kind's health reads a status that controllers change (a built-in
        rule or a user's check has it), so a rollout relists it."""
        if self.checks is not None and self.checks.find(api_version, kind) is not None:
            return True
        return rule_for(api_version, kind) is not None

    async def fence(self, stream: str) -> None:
        """Raise LockLost unless the target's lock is seen held after this call began.

        Called right before each batch of writes, never with an older answer. Why that
        keeps two processes from writing one target at once:
        - events: the caller read the stream before this call and appends at the version
          it read. The lock was held when the server answered the check, after that
          read; another process can win it only later, so whatever it appends comes
          after our read, and our append fails with a ConcurrencyError (the caller then
          reads again and fences again, which fails).
        - Kubernetes: the check precedes each request, each retry too, so the window is
          one Postgres round trip plus sending the request. A process that wins the lock
          needs more before its first apply: its next lock check (up to the service's
          lock interval), a read of the stream, and two appends (closing the sync it
          found open, starting its own). A request already sent when the session dies
          still lands: Kubernetes has no fencing token, so that request is the limit.
        """
        if self.locks is None:
            return
        alive = await self.locks.confirm()
        if not alive or not self.locks.holds(stream):
            raise LockLost(stream)

    async def cache(self, cluster: str) -> LiveCache:
        """The live cache of `cluster` (opening its client on first use)."""
        cache = self.caches.get(cluster)
        if cache is None:
            async with self._cache_lock:
                if cluster not in self.caches:
                    on_kind = self.on_kind
                    self.caches[cluster] = LiveCache(
                        await self.clusters.client(cluster),
                        on_change=self.on_change,
                        on_kind=None if on_kind is None else partial(on_kind, cluster),
                    )
                cache = self.caches[cluster]
        return cache
