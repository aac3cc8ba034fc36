"""The appliers service: every target of every app, reconciled by whoever holds its lock.

Where it sits: under the process's supervisor (``engine.supervisor``): ``start()`` hands
it these named tasks, each restarted on its own after a failure (``run()`` does the same
on a supervisor of its own, until cancelled):

- ``appliers-locks``: checks the lock connection and takes free targets (several baton
  processes share the targets; a process that loses its connection stops its workers);
- ``applier:<app>/<env>``: one worker per target held (``worker.py``);
- ``appliers-wake``: follows the event log and wakes the worker of each target stream
  that changed (a promotion started, a rollback); restarted after a failure, it resumes
  after the last event it handled, so nothing appended meanwhile is missed; a new
  release is rendered at once for
  the targets held here (``prerender:<app>/<env>``), as Argo CD renders a new revision
  when it sees it, so that promoting it later waits on no Git read;
- ``appliers-sweep:<cluster>``: relists baton's objects in a cluster every drift interval
  and wakes that cluster's workers for a drift check (with watches on, the safety net);
- ``appliers-watch:<cluster>:<apiVersion>/<kind>``: one per kind baton applies in a
  cluster, from the moment it is first listed (``watches.py``): every change to one of
  baton's objects updates the cache and wakes the worker that owns it, so a rollout that
  turns Healthy or Degraded, or an edit by hand (drift), is seen as it happens; off with
  ``BATON_WATCH=false``;
- ``appliers-refresh:<cluster>``: while a rollout is on in a cluster, relists the kinds
  that have health rules and no open watch every health interval; workers whose objects
  changed are woken (rollouts progress on status changes, not on a get per object and
  target);
- ``promoter``: automatic promotions and rollbacks (``engine.promoter``), the durable
  subscription ``promoter``: one process consumes it, from its checkpoint.

The wake loop is no durable subscription: every process must wake its own workers, from
the head (see ``engine.subscriptions``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from engine.appliers.cache import Kind
from engine.appliers.context import ApplierSettings, WorkerContext
from engine.appliers.objects import owner_of
from engine.appliers.render import GitRenderer, Renderer
from engine.appliers.watches import follow
from engine.appliers.worker import TargetWorker
from engine.config.loader import EnvironmentsConfig
from engine.domain.ids import parse_app_stream, target_stream
from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.domain.vocabulary import EventType
from engine.kube import Clusters, ClusterUnavailable, KubeError
from engine.promoter import Promoter
from engine.promotions import Promotions
from engine.repository import Repository
from engine.store import EventStore, RecordedEvent
from engine.store.locks import AdvisoryLocks
from engine.subscriptions import Subscriptions
from engine.supervisor import Supervisor, supervised_until_cancelled

log = logging.getLogger(__name__)
_RECORD_GRACE = 2.0  # seconds a stopping worker gets to record its sync's outcome


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
            on_kind=self._kind_listed,
            store=store,
            repository=repository,
            clusters=clusters,
            renderer=renderer,
            settings=self.settings,
            pass_slots=asyncio.Semaphore(self.settings.concurrent_passes),
            checks=config.health,
        )
        self.promoter = Promoter(Promotions(repository)) if promoter else None
        self.subscriptions = Subscriptions(store)
        self.workers = {
            stream: TargetWorker(self.ctx, app, env) for stream, (app, env) in _targets(config)
        }
        self._apps = {app.name: app for app in config.apps}
        self._claiming = asyncio.Lock()  # a claim and a reconfigure never interleave
        self._supervisor: Supervisor | None = None
        self._names: list[str] = []  # the supervised tasks of this service, but workers'
        self._workers: dict[str, str] = {}  # target stream → its worker's task name
        self._prerenders: set[asyncio.Task[None]] = set()  # short-lived: not supervised
        self._position = 0  # the last event the wake loop handled
        self._rejoin_at = 0.0  # after losing the lock connection, let others go first
        self.started = asyncio.Event()

    @property
    def owned(self) -> frozenset[str]:
        """Stream ids of the targets this process works on now."""
        supervisor = self._supervisor
        if supervisor is None:
            return frozenset()
        return frozenset(s for s, name in self._workers.items() if supervisor.running(name))

    async def run(self) -> None:
        """Until cancelled, on a supervisor of its own."""
        await supervised_until_cancelled(self.start, self.stop)

    async def start(self, supervisor: Supervisor) -> None:
        """Open the clients, take free targets and start every loop under `supervisor`."""
        self._supervisor = supervisor
        clusters = sorted({w.env.cluster for w in self.workers.values()})
        await self._open_clients(clusters)
        await self._claim()
        self._position = await self.ctx.store.head_position()
        self._supervise("appliers-locks", self._locks_loop)
        self._supervise("appliers-wake", self._wake_loop)
        for cluster in clusters:
            self._supervise_cluster(cluster)
        for cluster, cache in self.ctx.caches.items():  # started again: the kinds known
            for kind in cache.kinds:
                self._kind_listed(cluster, kind)
        promoter = self.promoter
        if promoter is not None:
            # a durable subscription: restarted, here or in another process, it resumes
            # from its checkpoint (from the log's origin the first time: all of them)
            self._supervise("promoter", partial(promoter.run, self.subscriptions))
        self.started.set()

    def _supervise(self, name: str, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        assert self._supervisor is not None
        self._supervisor.start(name, factory)
        self._names.append(name)

    async def stop(self) -> None:
        """Stop this service's tasks, give its locks back and close its clients."""
        supervisor, self._supervisor = self._supervisor, None
        names = [*self._workers.values(), *self._names]
        self._workers.clear()
        self._names.clear()
        for task in self._prerenders:
            task.cancel()
        try:
            if supervisor is not None:
                await asyncio.gather(*(supervisor.remove(name) for name in names))
            await asyncio.gather(*self._prerenders, return_exceptions=True)
        finally:
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
        supervisor = self._supervisor
        if supervisor is None:
            return
        # a worker returns from run() once its sync is closed
        await supervisor.wait_ended(
            self._workers.values(), within=self.settings.stop_grace + _RECORD_GRACE
        )

    async def _open_clients(self, clusters: list[str]) -> None:
        """Open each cluster's client now rather than in the first promotion's path."""
        for cluster in clusters:
            try:
                await self.ctx.clusters.client(cluster)
            except Exception as exc:  # the first worker that needs it reports it
                log.warning("appliers: cannot open a client for %s yet: %s", cluster, exc)

    async def reconfigure(self, config: EnvironmentsConfig) -> None:
        """Take a reloaded config: workers for new targets, none for removed ones, a fresh
        one where a target's spec changed, loops for new clusters; the user's checks."""
        self.ctx.checks = config.health
        self._apps = {app.name: app for app in config.apps}
        wanted = dict(_targets(config))
        async with self._claiming:
            for stream, worker in list(self.workers.items()):
                spec = wanted.get(stream)
                if spec is None or not _same_target(worker, *spec):
                    await self._drop(stream)
            for stream, (app, env) in wanted.items():
                if stream not in self.workers:
                    self.workers[stream] = TargetWorker(self.ctx, app, env)
            clusters = sorted({w.env.cluster for w in self.workers.values()})
            new = [c for c in clusters if f"appliers-sweep:{c}" not in self._names]
            if self._supervisor is not None:
                await self._open_clients(new)
                for cluster in new:
                    self._supervise_cluster(cluster)
                await self._claim_locked()
        for stream in self.owned:  # a changed health check may change their verdicts
            self.workers[stream].wake()

    async def _drop(self, stream: str) -> None:
        """Stop and forget a target's worker; give its lock back for others to take."""
        name = self._workers.pop(stream, None)
        if name is not None and self._supervisor is not None:
            await self._supervisor.remove(name, grace=self.settings.stop_grace)
        del self.workers[stream]
        await self.locks.release([stream])

    def _supervise_cluster(self, cluster: str) -> None:
        self._supervise(f"appliers-sweep:{cluster}", partial(self._sweep_loop, cluster))
        self._supervise(f"appliers-refresh:{cluster}", partial(self._refresh_loop, cluster))

    async def _claim(self) -> None:
        """Stop workers whose lock is gone; start workers for locks newly won."""
        async with self._claiming:
            await self._claim_locked()

    async def _claim_locked(self) -> None:
        supervisor = self._supervisor
        if supervisor is None:
            return
        alive = await self.locks.check()
        gone = [
            stream
            for stream, name in self._workers.items()
            if not alive or not self.locks.holds(stream) or not supervisor.running(name)
        ]
        # each stopped before its target can be won by another process (that waits for
        # `_rejoin_at`, a lock interval or two), but not waited for longer than that
        grace = self.settings.lock_interval
        await asyncio.gather(*(supervisor.remove(self._workers.pop(s), grace=grace) for s in gone))
        now = asyncio.get_running_loop().time()
        if not alive:
            log.warning("appliers: lock connection lost; stopped every worker of this process")
            self._rejoin_at = now + 2 * self.settings.lock_interval
        if now < self._rejoin_at:
            return
        won = await self.locks.try_acquire(s for s in self.workers if s not in self._workers)
        for stream in sorted(won):
            worker = self.workers[stream]
            worker._forget()  # another process may have written since we last looked
            name = f"applier:{worker.name}"
            self._workers[stream] = name
            supervisor.start(name, worker.run)

    def _changed(self, objects: list[dict[str, Any]]) -> None:
        """Wake the workers whose objects a list found changed."""
        for obj in objects:
            owner = owner_of(obj)
            if owner is None:
                continue
            worker = self.workers.get(target_stream(*owner))
            if worker is not None:
                worker.wake()

    def _kind_listed(self, cluster: str, kind: Kind) -> None:
        """Watch `kind` in `cluster` from now on (once; unless watches are off)."""
        name = f"appliers-watch:{cluster}:{kind[0]}/{kind[1]}"
        if not self.settings.watch or self._supervisor is None or name in self._names:
            return
        self._supervise(name, partial(self._watch_loop, cluster, kind))

    async def _watch_loop(self, cluster: str, kind: Kind) -> None:
        cache = await self.ctx.cache(cluster)
        await follow(cache, kind, timeout_seconds=self.settings.watch_timeout)

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
                kinds = {k for k in cache.kinds if self.ctx.reads_status(*k)}
                await cache.refresh(kinds, max_age=self.settings.health_interval * 0.9)
            except (ClusterUnavailable, KubeError) as exc:
                log.warning("appliers: status refresh of %s failed: %s", cluster, exc)

    async def _locks_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lock_interval)
            try:
                await self._claim()
            except Exception:
                # a lock connection in an unknown state holds no lock we can count on:
                # give it back; the next claim (after the supervisor's restart) starts afresh
                await self.locks.close()
                raise

    async def _wake_loop(self) -> None:
        async with self.ctx.store.subscribe(after=self._position) as batches:
            async for batch in batches:
                for event in batch:
                    self._wake_for(event)
                    self._position = event.position

    def _wake_for(self, event: RecordedEvent) -> None:
        heads = self.ctx.heads
        heads[event.stream_id] = max(heads.get(event.stream_id, 0), event.stream_version)
        worker = self.workers.get(event.stream_id)
        if worker is not None and event.metadata.actor != "applier":
            worker.wake()
        elif event.type == EventType.RELEASE_CREATED:
            app = parse_app_stream(event.stream_id)
            if app is not None:
                self._prerender(app, event.data["sha"])

    def _prerender(self, name: str, sha: str) -> None:
        """Render a new release for each target of its app held here, in the background."""
        app = self._apps.get(name)
        if app is None:
            return
        owned = self.owned
        for env in app.environments:
            if target_stream(app.name, env.name) in owned:
                name = f"prerender:{app.name}/{env.name}"
                task = asyncio.create_task(self._render_ahead(app, sha, env.name), name=name)
                self._prerenders.add(task)
                task.add_done_callback(self._prerenders.discard)

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


def _targets(config: EnvironmentsConfig) -> Iterator[tuple[str, tuple[AppSpec, EnvironmentSpec]]]:
    """Every app×environment of `config`, by target stream."""
    for app in config.apps:
        for env in app.environments:
            yield target_stream(app.name, env.name), (app, env)


def _same_target(worker: TargetWorker, app: AppSpec, env: EnvironmentSpec) -> bool:
    """True when a reload leaves what `worker` works from as it was (other environments
    of its app may have changed: they are other targets)."""
    return worker.env == env and replace(worker.app, environments=()) == replace(
        app, environments=()
    )


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
    ``BATON_LOCK_INTERVAL``; watches unless ``BATON_WATCH=false``; releases rendered
    from the Git mirrors under ``home``.
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
