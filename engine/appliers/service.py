"""The appliers service: every target of every app, reconciled by whoever holds its lock.

Where it sits: the entry point the server runs (``await AppliersService(...).run()``).
It starts, in one ``asyncio.TaskGroup`` of named tasks:

- ``appliers-locks``: checks the lock connection and takes free targets (several baton
  processes share the targets; a process that loses its connection stops its workers);
- ``applier:<app>/<env>``: one worker per target held (``worker.py``);
- ``appliers-wake``: follows the event log and wakes the worker of each target stream
  that changed (a promotion started, a rollback); a new release is rendered at once for
  the targets held here (``prerender:<app>/<env>``), as Argo CD renders a new revision
  when it sees it, so that promoting it later waits on no Git read;
- ``appliers-sweep:<cluster>``: relists baton's objects in a cluster every drift interval
  and wakes that cluster's workers for a drift check;
- ``appliers-refresh:<cluster>``: while a rollout is on in a cluster, relists the kinds
  that have health rules every health interval; workers whose objects changed are woken
  (rollouts progress on status changes, not on a get per object and target);
- ``promoter``: automatic promotions and rollbacks (``engine.promoter``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

from engine.appliers.context import ApplierSettings, WorkerContext
from engine.appliers.objects import owner_of
from engine.appliers.render import GitRenderer, Renderer
from engine.appliers.worker import TargetWorker
from engine.config.loader import EnvironmentsConfig
from engine.config.model import AppSpec
from engine.domain.ids import target_stream
from engine.health import rule_for
from engine.kube import Clusters, ClusterUnavailable, KubeError
from engine.promoter import Promoter
from engine.promotions import Promotions
from engine.repository import Repository
from engine.store import EventStore
from engine.store.locks import AdvisoryLocks

log = logging.getLogger(__name__)
_RECORD_GRACE = 2.0  # seconds a stopping worker gets to record its sync's outcome


async def _logged(name: str, coro: Coroutine[Any, Any, None]) -> None:
    """Run a background task; log its failure (then let the TaskGroup see it)."""
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s failed", name)
        raise


async def _until_cancelled(name: str, coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` in its own task and, when cancelled, cancel it until it has ended.

    On Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that races with the
    completion of what it waits for (fixed in 3.12); the log subscription uses it, so
    one cancel is not always enough to stop a subscriber.
    """
    inner = asyncio.create_task(coro, name=f"{name}-inner")
    try:
        await asyncio.wait({inner})  # a cancel lands here, not in `inner`
        inner.result()
    finally:
        while not inner.done():
            inner.cancel()
            await asyncio.wait({inner}, timeout=0.1)


class AppliersService:
    """Workers for the targets this process holds, the sweeps, the wake-ups, the promoter."""

    def __init__(
        self,
        *,
        store: EventStore,
        config: EnvironmentsConfig,
        clusters: Clusters,
        renderer: Renderer,
        settings: ApplierSettings | None = None,
        promoter: bool = True,
    ) -> None:
        repository = Repository(store)
        self.settings = settings or ApplierSettings()
        self.locks = AdvisoryLocks(store.pool)
        self.ctx: WorkerContext = WorkerContext(
            locks=self.locks,
            on_change=self._changed,
            store=store,
            repository=repository,
            clusters=clusters,
            renderer=renderer,
            settings=self.settings,
            pass_slots=asyncio.Semaphore(self.settings.concurrent_passes),
        )
        self.promoter = Promoter(store, Promotions(repository)) if promoter else None
        self.workers = {
            worker.stream: worker
            for app in config.apps
            for env in app.environments
            for worker in [TargetWorker(self.ctx, app, env)]
        }
        self._apps = {app.name: app for app in config.apps}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._rejoin_at = 0.0  # after losing the lock connection, let others go first
        self.started = asyncio.Event()

    @property
    def owned(self) -> frozenset[str]:
        """Stream ids of the targets this process works on now."""
        return frozenset(s for s, t in self._tasks.items() if not t.done())

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A named task in the service's group; during shutdown, none (we are cancelled)."""
        wrapped = _logged(name, coro)
        try:
            if self._group is None:
                raise RuntimeError("not running")
            return self._group.create_task(wrapped, name=name)
        except RuntimeError:  # the group is shutting down: a swallowed cancel reached us
            wrapped.close()
            coro.close()
            raise asyncio.CancelledError() from None

    async def run(self) -> None:
        """Until cancelled."""
        clusters = sorted({w.env.cluster for w in self.workers.values()})
        await self._open_clients(clusters)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await self._claim()
                head = await self.ctx.store.head_position()
                self._spawn(
                    "appliers-locks", _until_cancelled("appliers-locks", self._locks_loop())
                )
                self._spawn(
                    "appliers-wake", _until_cancelled("appliers-wake", self._wake_loop(head))
                )
                for cluster in clusters:
                    name = f"appliers-sweep:{cluster}"
                    self._spawn(name, _until_cancelled(name, self._sweep_loop(cluster)))
                    name = f"appliers-refresh:{cluster}"
                    self._spawn(name, _until_cancelled(name, self._refresh_loop(cluster)))
                if self.promoter is not None:
                    self._spawn("promoter", _until_cancelled("promoter", self.promoter.run()))
                self.started.set()
        finally:
            self._group = None
            await self.locks.close()
            await self.ctx.clusters.aclose()

    async def finish_syncs(self) -> None:
        """Let the workers close the syncs they are in, then return; stop the tasks after.

        Bounded: a sync gets ``stop_grace`` seconds for the requests in flight, and a
        little more to record its outcome; workers still busy after that are cancelled.
        """
        self.ctx.stopping.set()
        for worker in self.workers.values():
            worker.wake()
        busy = [task for task in self._tasks.values() if not task.done()]
        if busy:
            await asyncio.wait(busy, timeout=self.settings.stop_grace + _RECORD_GRACE)

    async def _open_clients(self, clusters: list[str]) -> None:
        """Open each cluster's client now rather than in the first promotion's path."""
        for cluster in clusters:
            try:
                await self.ctx.clusters.client(cluster)
            except Exception as exc:  # the first worker that needs it reports it
                log.warning("appliers: cannot open a client for %s yet: %s", cluster, exc)

    async def _claim(self) -> None:
        """Stop workers whose lock is gone; start workers for locks newly won."""
        alive = await self.locks.check()
        for stream, task in list(self._tasks.items()):
            if not alive or not self.locks.holds(stream) or task.done():
                task.cancel()
                del self._tasks[stream]
        now = asyncio.get_running_loop().time()
        if not alive:
            log.warning("appliers: lock connection lost; stopped every worker of this process")
            self._rejoin_at = now + 2 * self.settings.lock_interval
        if now < self._rejoin_at:
            return
        won = await self.locks.try_acquire(s for s in self.workers if s not in self._tasks)
        for stream in sorted(won):
            worker = self.workers[stream]
            worker._forget()  # another process may have written since we last looked
            self._tasks[stream] = self._spawn(f"applier:{worker.name}", worker.run())

    def _changed(self, objects: list[dict[str, Any]]) -> None:
        """Wake the workers whose objects a list found changed."""
        for obj in objects:
            owner = owner_of(obj)
            if owner is None:
                continue
            worker = self.workers.get(target_stream(*owner))
            if worker is not None:
                worker.wake()

    async def _refresh_loop(self, cluster: str) -> None:
        """While a rollout is on in `cluster`, relist its kinds every health interval."""
        while True:
            await asyncio.sleep(self.settings.health_interval)
            if not any(
                self.workers[s].rolling and self.workers[s].env.cluster == cluster
                for s in self.owned
            ):
                continue
            try:
                cache = await self.ctx.cache(cluster)
                # only kinds whose health rules read a status that controllers change
                kinds = {k for k in cache.kinds if rule_for(*k) is not None}
                await cache.refresh(kinds, max_age=self.settings.health_interval * 0.9)
            except (ClusterUnavailable, KubeError) as exc:
                log.warning("appliers: status refresh of %s failed: %s", cluster, exc)

    async def _locks_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lock_interval)
            try:
                await self._claim()
            except (OSError, TimeoutError) as exc:
                log.warning("appliers: lock check failed: %s", exc)
                await self.locks.close()

    async def _wake_loop(self, head: int) -> None:
        async for batch in self.ctx.store.subscribe(after=head):
            for event in batch:
                heads = self.ctx.heads
                heads[event.stream_id] = max(heads.get(event.stream_id, 0), event.stream_version)
                worker = self.workers.get(event.stream_id)
                if worker is not None and event.metadata.actor != "applier":
                    worker.wake()
                elif event.type == "App.ReleaseCreated":
                    self._prerender(event.stream_id.removeprefix("app:"), event.data["sha"])

    def _prerender(self, name: str, sha: str) -> None:
        """Render a new release for each target of its app held here, in the background."""
        app = self._apps.get(name)
        if app is None:
            return
        owned = self.owned
        for env in app.environments:
            if target_stream(app.name, env.name) in owned:
                task = f"prerender:{app.name}/{env.name}"
                self._spawn(task, self._render_ahead(app, sha, env.name))

    async def _render_ahead(self, app: AppSpec, sha: str, environment: str) -> None:
        try:
            await self.ctx.renderer.render(app, sha, environment)
        except Exception as exc:  # the worker renders again, and reports, if it is promoted
            log.info("appliers: rendering %s of %s ahead failed: %s", sha[:12], app.name, exc)

    async def _sweep_loop(self, cluster: str) -> None:
        while True:
            await asyncio.sleep(self.settings.drift_interval)
            try:
                cache = await self.ctx.cache(cluster)
                await cache.sweep()
            except (ClusterUnavailable, KubeError) as exc:
                log.warning("appliers: sweep of %s failed: %s", cluster, exc)
                continue
            for stream in self.owned:
                worker = self.workers[stream]
                if worker.env.cluster == cluster:
                    worker.wake()

    async def sweep_now(self, cluster: str) -> None:
        """One drift-check sweep of `cluster`, waking its workers (tests, the CLI)."""
        cache = await self.ctx.cache(cluster)
        await cache.sweep()
        for stream in self.owned:
            if self.workers[stream].env.cluster == cluster:
                self.workers[stream].wake()


def build_appliers(
    *,
    store: EventStore,
    config: EnvironmentsConfig,
    home: Path,
    environ: Mapping[str, str] | None = None,
) -> AppliersService:
    """The service as the server runs it: ``await build_appliers(...).run()``.

    Kubeconfig from ``BATON_KUBECONFIG`` (else ``KUBECONFIG``, else ``~/.kube/config``);
    intervals from ``BATON_DRIFT_INTERVAL``, ``BATON_HEALTH_INTERVAL``,
    ``BATON_LOCK_INTERVAL``; releases rendered from the Git mirrors under ``home``.
    """
    env = os.environ if environ is None else environ
    kubeconfig = env.get("BATON_KUBECONFIG") or env.get("KUBECONFIG") or None
    return AppliersService(
        store=store,
        config=config,
        clusters=Clusters(kubeconfig=kubeconfig),
        renderer=GitRenderer(home),
        settings=ApplierSettings.from_env(env),
    )
