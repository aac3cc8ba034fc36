"""Previewing a promotion or a rollback: what the command would decide, what its sync would do.

Where it sits: before a command, for whoever is about to confirm it (the API's preview
operations, the CLI's ``--dry-run``, the console). The decision is the promotion
service's (``Promotions.check_promotion``/``check_rollback``: the candidate resolved and
the rules checked as the command does, on the loaded aggregates, nothing saved). The
running and the candidate release are rendered by the appliers' renderer (Git read in a
thread), compared object by object (``engine.appliers.diff``), and the objects the sync
would write are server-side applied to the environment's cluster with ``dryRun=All``, as
baton's field manager, labelled as the applier labels them. Nothing is written: no event,
no object. A cluster that does not answer within a short timeout makes the dry run
``unavailable``, never the preview a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from engine.appliers.diff import ManifestDiff, diff_renderings
from engine.appliers.objects import ObjectRef, owned_bodies, ref_of
from engine.appliers.render import Renderer
from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.domain.promotion import Override
from engine.git.mirror import GitSourceError
from engine.kube import ClusterClient, Clusters, KubeError
from engine.promotions import Check, Promotions
from engine.render import Rendered, RenderError

log = logging.getLogger(__name__)


class DryRunStatus(StrEnum):
    """How far the server-side dry run got."""

    DONE = "done"  # the cluster answered for every object
    UNAVAILABLE = "unavailable"  # no cluster, or it did not answer in time
    SKIPPED = "skipped"  # nothing to apply, or nothing rendered to apply

    @property
    def answered(self) -> bool:
        """True when the cluster judged the objects."""
        return self is DryRunStatus.DONE


class Verdict(StrEnum):
    """What the API server said of one object."""

    OK = "ok"
    REFUSED = "refused"
    SKIPPED = "skipped"  # it could not be judged (its namespace does not exist yet)


@dataclass(frozen=True, kw_only=True)
class ObjectDryRun:
    """One object's dry-run apply."""

    ref: ObjectRef
    verdict: Verdict
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class DryRun:
    """The server-side dry run of the objects the sync would apply."""

    status: DryRunStatus
    reason: str = ""
    objects: tuple[ObjectDryRun, ...] = ()

    @property
    def refused(self) -> tuple[ObjectDryRun, ...]:
        """The objects the API server would reject."""
        return tuple(o for o in self.objects if o.verdict is Verdict.REFUSED)


@dataclass(frozen=True, kw_only=True)
class Preview:
    """A promotion or rollback as it would go now, before anyone confirms it."""

    app: str
    environment: str
    check: Check
    #: None when a release could not be rendered (`manifests_error` says why)
    manifests: ManifestDiff | None
    manifests_error: str = ""
    dry_run: DryRun = field(default_factory=lambda: DryRun(status=DryRunStatus.SKIPPED))


class Previewer:
    """Previews against the promotion service, a renderer and the environments' clusters."""

    def __init__(
        self,
        promotions: Promotions,
        *,
        renderer: Renderer,
        clusters: Clusters | None,
        timeout: float = 10.0,
    ) -> None:
        """`clusters` None: no dry run (reported as unavailable); `timeout`: seconds the
        whole dry run may take (the clients' own per-request timeout should be shorter)."""
        self.promotions = promotions
        self.renderer = renderer
        self.clusters = clusters
        self.timeout = timeout

    async def promotion(
        self,
        app: str,
        environment: str,
        *,
        release: str | None = None,
        from_environment: str | None = None,
        override: Override | None = None,
    ) -> Preview:
        """The preview of `Promotions.request` with these arguments."""
        check = await self.promotions.check_promotion(
            app, environment, release=release, from_environment=from_environment, override=override
        )
        return await self._preview(environment, check)

    async def rollback(self, app: str, environment: str, *, to: str | None = None) -> Preview:
        """The preview of `Promotions.rollback` with these arguments."""
        check = await self.promotions.check_rollback(app, environment, to=to)
        return await self._preview(environment, check)

    async def _preview(self, environment: str, check: Check) -> Preview:
        spec, env = check.app, check.app.environment(environment)
        preview = Preview(app=spec.name, environment=environment, check=check, manifests=None)
        if check.release is None:
            return preview
        candidate_sha = check.release.sha
        try:
            candidate = await self.renderer.render(spec, candidate_sha, environment)
            running = (
                await self.renderer.render(spec, check.running, environment)
                if check.running is not None
                else None
            )
        except (GitSourceError, RenderError, TimeoutError, OSError) as exc:
            return replace(preview, manifests_error=_reason(exc))
        labels = (
            f"running {check.running[:12]}" if check.running else "running (nothing)",
            f"candidate {candidate_sha[:12]}",
        )
        diff = diff_renderings(
            [o.body for o in running.objects] if running else [],
            [o.body for o in candidate.objects],
            labels=labels,
        )
        dry_run = await self._dry_run(spec, env, candidate_sha, candidate, diff)
        return replace(preview, manifests=diff, dry_run=dry_run)

    async def _dry_run(
        self,
        spec: AppSpec,
        env: EnvironmentSpec,
        release: str,
        candidate: Rendered,
        diff: ManifestDiff,
    ) -> DryRun:
        """Apply what the sync would write with dryRun=All; never raises."""
        writes = {c.ref.identity for c in diff.writes}
        bodies, _ = owned_bodies(
            (o.body for o in candidate.objects),
            app=spec.name,
            environment=env.name,
            release=release,
        )
        todo = [b for b in bodies if ref_of(b).identity in writes]
        if not todo:
            return DryRun(status=DryRunStatus.SKIPPED, reason="the sync would apply nothing")
        if self.clusters is None:
            return DryRun(status=DryRunStatus.UNAVAILABLE, reason="no cluster is configured here")
        try:
            async with asyncio.timeout(self.timeout):
                client = await self.clusters.client(env.cluster)
                absent = await _absent_namespaces(client, todo)
                results = await asyncio.gather(*(_try(client, b, absent) for b in todo))
        except TimeoutError:
            reason = f"cluster {env.cluster} did not answer within {self.timeout:g}s"
            return DryRun(status=DryRunStatus.UNAVAILABLE, reason=reason)
        except Exception as exc:  # an unreachable cluster, a kubeconfig without its context
            log.info("preview of %s/%s: no dry run: %s", spec.name, env.name, exc)
            return DryRun(status=DryRunStatus.UNAVAILABLE, reason=_reason(exc))
        return DryRun(status=DryRunStatus.DONE, objects=tuple(results))


async def _absent_namespaces(client: ClusterClient, bodies: Iterable[dict[str, Any]]) -> set[str]:
    """The namespaces the objects live in that the cluster does not have (yet)."""
    used = sorted({ns for b in bodies if (ns := b["metadata"].get("namespace"))})
    found = await asyncio.gather(*(client.get("v1", "Namespace", None, ns) for ns in used))
    return {ns for ns, outcome in zip(used, found, strict=True) if outcome.obj is None}


async def _try(client: ClusterClient, body: dict[str, Any], absent: set[str]) -> ObjectDryRun:
    """One object's dry-run apply: ok, or the API server's reason and message."""
    ref = ref_of(body)
    if ref.namespace in absent:
        message = (
            f"namespace {ref.namespace} does not exist yet; the sync creates it first, "
            "so the server cannot check this object before then"
        )
        return ObjectDryRun(ref=ref, verdict=Verdict.SKIPPED, message=message)
    try:
        await client.apply(body, dry_run=True)
    except KubeError as exc:
        if exc.is_transient:
            raise
        return ObjectDryRun(
            ref=ref, verdict=Verdict.REFUSED, message=f"{exc.status} {exc.reason}: {exc.message}"
        )
    return ObjectDryRun(ref=ref, verdict=Verdict.OK)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
