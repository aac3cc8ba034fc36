"""One worker per target (app × environment): observe → decide → act, again and again.

Where it sits: started by ``service.py`` for each target whose advisory lock this process
holds, and cancelled when the lock is lost. Woken by a new event on the target's stream
(a promotion started, a rollback), by its cluster's drift-check sweep, by a status change
of one of its objects (while a rollout is under way), or by its own timer. Each pass:

1. observe: the Target aggregate (read incrementally), the rendered desired release, and
   the live objects (the cluster cache, or fresh reads while a rollout is on);
2. decide (``plan.py``): sync, or check for drift; the health; the promotion's verdict;
3. act: close a sync left open by a crash, apply and prune, record every outcome as
   events on the target's stream (actor ``applier``, correlated with the promotion).

Every batch of writes (an append, a request to the cluster) is fenced first: the worker
stops at once, writing nothing more, when its lock session has died (``LockLost``; see
``WorkerContext.fence``). When baton stops, a sync finishes the requests in flight (for
at most ``stop_grace`` seconds) and is closed with SyncSucceeded or SyncFailed. A pass
that fails (the database or a cluster went away) is retried with capped, jittered
backoff, with one log line when the worker stops working and one when it recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from typing import Any

from opentelemetry import trace

from engine.appliers.context import LockLost, Stopping, WorkerContext
from engine.appliers.execute import Progress, execute
from engine.appliers.objects import ObjectRef, owned_bodies, ref_of
from engine.appliers.plan import (
    Live,
    Step,
    SyncPlan,
    TargetView,
    Verdict,
    decide_promotion,
    decide_step,
    next_wake,
    plan_drift,
    plan_sync,
)
from engine.appliers.recording import TargetRecorder
from engine.appliers.stopping import STOPPING, stopped_sync, until_stopped
from engine.appliers.tracing import failed, pass_span
from engine.backoff import full_jitter
from engine.domain.enums import Health, SyncStatus
from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.domain.target import Target
from engine.health import assess, combine
from engine.kube import ClusterUnavailable, KubeError
from engine.store import is_database_unavailable

Entry = dict[str, Any]  # an object's body, or its line in a sync's outcome
log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
_RNG = random.Random()


class TargetWorker(TargetRecorder):
    """Reconciles one target."""

    def __init__(self, ctx: WorkerContext, app: AppSpec, environment: EnvironmentSpec) -> None:
        super().__init__(ctx, app, environment)
        self.passes = 0
        self.acting = False  # true while this worker may write (tests check exclusivity)
        self.rolling = False  # waiting for a rollout: the cluster's status refresh runs
        self._wake = asyncio.Event()
        self._desired: tuple[str, list[dict[str, Any]]] | None = None
        self._namespaces: list[dict[str, Any]] = []  # used but not declared by the release
        self._outcome: tuple[str, str, list[dict[str, Any]]] | None = None  # sync to record

    def wake(self) -> None:
        """Run a pass soon."""
        self._wake.set()

    async def run(self) -> None:
        """Pass after pass until baton stops or the lock is lost; a failed pass backs off.

        Returns only then (the service starts a new worker when it wins the lock again);
        every other error is retried here, so the run never raises but CancelledError.
        """
        delay, failures = 0.0, 0
        while not self.ctx.stopping.is_set():
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                if self.ctx.stopping.is_set():
                    return
            self._wake.clear()
            try:
                async with self.ctx.pass_slots:
                    delay = await self.reconcile()
            except ClusterUnavailable as exc:
                delay = await self._cluster_down(exc)
            except LockLost:
                self._forget()
                log.warning("%s: lock lost; this process stops working on it", self.name)
                return
            except Stopping:
                return
            except Exception as exc:
                failures += 1
                delay = self._pass_failed(exc, failures)
                continue
            if failures:
                passes = "pass" if failures == 1 else "passes"
                log.info("%s: working again after %d failed %s", self.name, failures, passes)
                failures = 0

    def _pass_failed(self, exc: Exception, failures: int) -> float:
        """Forget what may be stale, log the first failure only; the delay before the next
        pass (exponential, capped at the cluster backoff, jittered: many workers meet one
        outage, and should not all come back in the same instant)."""
        self._forget()
        if failures == 1 and is_database_unavailable(exc):
            log.warning("%s: stopped working, the database is unavailable: %s", self.name, exc)
        elif failures == 1:
            log.exception("%s: stopped working, a pass failed; retrying with backoff", self.name)
        else:
            log.debug("%s: pass %d failed again: %r", self.name, failures, exc)
        return full_jitter(failures, base=0.2, cap=self.ctx.settings.cluster_backoff, rng=_RNG)

    # --- observe -----------------------------------------------------------------------

    async def _desired_objects(self, release: str) -> list[dict[str, Any]]:
        """The desired release rendered for this environment, labelled as baton's."""
        if self._desired is not None and self._desired[0] == release:
            return self._desired[1]
        rendered = await self.ctx.renderer.render(self.app, release, self.env.name)
        bodies, self._namespaces = owned_bodies(
            (o.body for o in rendered.objects),
            app=self.app.name,
            environment=self.env.name,
            release=release,
        )
        self._desired = (release, bodies)
        return bodies

    async def _live(self, desired: list[dict[str, Any]], *, fresh: bool) -> Live:
        """Live state of `desired` from the cluster cache; `fresh`: listed at most one
        health interval ago (rollouts), else as of the last sweep and our own writes."""
        cache = await self.ctx.cache(self.env.cluster)
        kinds = [((b["apiVersion"], b["kind"]), ref_of(b).identity) for b in desired]
        await cache.ensure({k for k, _ in kinds})
        if fresh:  # only kinds whose health reads a status that controllers change
            statused = {k for k, _ in kinds if self.ctx.reads_status(*k)}
            await cache.refresh(statused, max_age=self.ctx.settings.health_interval)
        return Live(cache.known(kinds))

    # --- one pass ----------------------------------------------------------------------

    async def reconcile(self) -> float:
        """One pass, traced: part of the promotion's trace when it applies that promotion."""
        await self._load()
        with pass_span(self.app.name, self.env.name, self._target, self._cause):
            return await self._reconcile()

    async def _reconcile(self) -> float:
        """One observe → decide → act pass; returns seconds until the next one."""
        self.passes += 1
        self._outcome = None  # an outcome a failed pass did not record is void (abandoned)
        settings = self.ctx.settings
        with tracer.start_as_current_span("applier.observe", attributes={"target": self.name}):
            target = await self._load()
            if target is None:
                return settings.drift_interval
            if target.open_sync is not None:
                await self._record(
                    lambda t: t.abandon_sync(
                        reason="no outcome was recorded (its applier stopped); a new sync begins",
                        now=self.ctx.clock(),
                    )
                )
            view = view_of(target)
            step = decide_step(view)
            if step == Step.IDLE or view.desired_release is None:
                return settings.drift_interval
            desired = await self._desired_objects(view.desired_release)
            rolling = view.promotion_phase is not None and view.promotion_phase.is_in_flight
            fresh = step == Step.CHECK and (rolling or view.health != Health.HEALTHY)
            live = await self._live(desired, fresh=fresh)
        if self.ctx.stopping.is_set():
            raise Stopping()
        with tracer.start_as_current_span("applier.act", attributes={"target": self.name}):
            self.acting = True
            try:
                if step == Step.SYNC:
                    reason = "promotion" if rolling else "resume"
                    live = await self._sync(desired, live, reason=reason)
                else:
                    live = await self._check_drift(desired, live)
                return await self._assess(desired, live)
            finally:
                self.acting = False

    async def _check_drift(self, desired: list[dict[str, Any]], live: Live) -> Live:
        drifted = plan_drift(desired, live)
        if not drifted:
            return live
        now = self.ctx.clock()
        release = self._target.applied_release if self._target else None
        await self._record(
            lambda t: t.detect_drift(release=release or "", objects=drifted, now=now)
        )
        if not self.env.policy.self_heal:
            return live
        return await self._sync(desired, live, reason="self-heal")

    async def _sync(self, desired: list[dict[str, Any]], live: Live, *, reason: str) -> Live:
        """Record SyncStarted, apply and prune, record the outcome; the live state after."""
        target = self._target
        assert target is not None and target.desired_release is not None
        release = target.desired_release
        cache = await self.ctx.cache(self.env.cluster)
        inventory = [ObjectRef.from_json(o) for o in target.inventory if "kind" in o]
        inventory += [ref_of(o) for o in cache.owned_by(self.app.name, self.env.name)]
        plan = plan_sync(
            desired, live=live, inventory=inventory, app=self.app.name, environment=self.env.name
        )
        sync_id = str(uuid.uuid4())
        now = self.ctx.clock()
        await self._record(
            lambda t: t.start_sync(
                sync_id=sync_id, release=release, object_count=len(desired), reason=reason, now=now
            )
        )
        with tracer.start_as_current_span(
            "sync",
            attributes={
                "baton.sync_id": sync_id,
                "baton.release": release,
                "baton.sync_reason": reason,
                "baton.objects": len(desired),
            },
        ) as span:
            progress = Progress(guard=self._guard)
            try:
                entries = await until_stopped(
                    self._apply_plan(plan, live, progress),
                    stopping=self.ctx.stopping,
                    grace=self.ctx.settings.stop_grace,
                )
            except Stopping:
                await self._sync_stopped(sync_id, desired, plan.unchanged, progress)
                raise
            except KubeError as exc:
                failed(span, exc)
                await self._sync_failed(sync_id, exc.what, exc.reason, exc.message, exc.attempts)
                return live
            except ClusterUnavailable as exc:
                failed(span, exc)
                await self._sync_failed(
                    sync_id, self.env.cluster, "ClusterUnavailable", str(exc), exc.attempts
                )
                raise
        # recorded together with the health that follows, in one append (see _assess)
        self._outcome = (sync_id, release, entries)
        known = {ref_of(b).identity: live.get(ref_of(b).identity) for b in desired}
        for body in desired:
            identity = ref_of(body).identity
            known[identity] = cache.known([((body["apiVersion"], body["kind"]), identity)]).get(
                identity, known[identity]
            )
        return Live(known)

    async def _apply_plan(self, plan: SyncPlan, live: Live, progress: Progress) -> list[Entry]:
        cache = await self.ctx.cache(self.env.cluster)
        for namespace in self._namespaces:  # before anything that lives in it
            await self._guard()  # here: its request is shared by every target in it
            await cache.ensure_namespace(namespace)
        owner = (self.app.name, self.env.name)
        return await execute(cache.client, cache, plan, live, owner=owner, progress=progress)

    async def _guard(self) -> None:
        """Before each request that writes to the cluster: not stopping, the lock held."""
        if self.ctx.stopping.is_set():
            raise Stopping()
        await self.ctx.fence(self.stream)

    async def _sync_stopped(
        self, sync_id: str, desired: list[Entry], unchanged: tuple[Entry, ...], progress: Progress
    ) -> None:
        """Close a sync that baton's stop cut short; the promotion stays in flight (the next
        start syncs again)."""
        done = progress.written | {ref_of(b).identity for b in unchanged}
        what, message = stopped_sync(desired, done, target=self.name)
        now = self.ctx.clock()
        await self._record(
            lambda t: t.fail_sync(
                sync_id=sync_id, object=what, reason=STOPPING, message=message, attempts=1, now=now
            )
        )

    async def _sync_failed(
        self, sync_id: str, what: str, reason: str, message: str, attempts: int
    ) -> None:
        now = self.ctx.clock()
        await self._record(
            lambda t: t.fail_sync(
                sync_id=sync_id,
                object=what,
                reason=reason,
                message=message,
                attempts=attempts,
                now=now,
            )
        )
        transient = reason in ("ClusterUnavailable", "TooManyRequests") or reason.startswith(
            ("InternalError", "ServiceUnavailable", "Timeout")
        )
        promotion = self._target.in_flight if self._target else None
        if promotion is not None and not transient:
            pid = promotion.id
            await self._record(
                lambda t: t.fail(
                    promotion_id=pid, reason=f"sync failed: {what}: {reason}: {message}", now=now
                )
            )

    async def _assess(self, desired: list[dict[str, Any]], live: Live) -> float:
        """Record the sync's outcome (if any), the health, and the promotion's verdict, in
        one append; returns seconds until the next pass."""
        with tracer.start_as_current_span("health") as span:
            results = [
                (ref_of(b).describe(), assess(live.get(ref_of(b).identity), self.ctx.checks))
                for b in desired
            ]
            health, reasons = combine(results)
            span.set_attribute("baton.health", health.value)
        now = self.ctx.clock()
        outcome, self._outcome = self._outcome, None
        soak = self.env.policy.soak.total_seconds()

        def command(t: Target) -> Verdict:
            if outcome is not None:
                sync_id, release, entries = outcome
                t.record_sync(sync_id=sync_id, release=release, now=now, objects=entries)
                if t.drift:
                    t.correct_drift(sync_id=sync_id, now=now)
            t.record_health(health=health, reasons=reasons, now=now)
            view = view_of(t)
            verdict = decide_promotion(view, soak_seconds=soak, now=now)
            if verdict.fail is not None and view.promotion_id is not None:
                why = f"{verdict.fail}: {'; '.join(reasons[:3])}"
                t.fail(promotion_id=view.promotion_id, reason=why, now=now)
            elif verdict.verify:
                t.verify(soak_seconds=soak, now=now)
            return verdict

        verdict = await self._record(command)
        assert self._target is not None
        delay = next_wake(
            view_of(self._target),
            verdict,
            health_interval=self.ctx.settings.health_interval,
            drift_interval=self.ctx.settings.drift_interval,
        )
        self.rolling = delay <= self.ctx.settings.health_interval
        if self.rolling and self.ctx.on_change is not None:
            # status changes wake this worker; polling is only the safety net
            return max(delay, 20 * self.ctx.settings.health_interval)
        return delay

    async def _cluster_down(self, exc: ClusterUnavailable) -> float:
        """A cluster that does not answer makes its targets Unknown, then waits."""
        log.warning("%s: %s", self.name, exc)
        try:
            now = self.ctx.clock()
            await self._record(
                lambda t: t.record_health(health=Health.UNKNOWN, reasons=[str(exc)], now=now)
            )
        except (LockLost, Stopping):
            raise
        except Exception:
            log.exception("could not record %s as Unknown", self.name)
            self._forget()
        return self.ctx.settings.cluster_backoff


def view_of(target: Target) -> TargetView:
    """The facts a pass decides on."""
    promotion = target.promotion
    return TargetView(
        desired_release=target.desired_release,
        applied_release=target.applied_release,
        sync_failed=target.sync_status == SyncStatus.FAILED,
        promotion_id=promotion.id if promotion is not None else None,
        promotion_phase=promotion.phase if promotion is not None else None,
        health=target.health,
        healthy_since=target.healthy_since,
    )
