"""Carrying out a sync plan on a cluster: apply in order, prune, report each object.

Where it sits: the act phase of a worker's sync (``worker.py`` records the outcome).
Namespaces and CRDs are applied first, one after the other; the rest concurrently
(the cluster client bounds how many requests are in flight). The first error stops the
sync and is raised as it came (``KubeError`` or ``ClusterUnavailable``, or what the
:class:`Progress` guard raised: the lock is lost, baton is stopping); the requests already
in flight finish first, and :class:`Progress` tells which objects were written.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from engine.appliers.cache import LiveCache
from engine.appliers.objects import Identity, ObjectRef, owner_of, ref_of
from engine.appliers.plan import Action, Live, SyncPlan
from engine.appliers.tracing import object_span
from engine.kube import ClusterClient
from engine.kube.client import Guard


@dataclass
class Progress:
    """What a sync awaits before each request it sends, and what it has written."""

    guard: Guard | None = None
    written: set[Identity] = field(default_factory=set)


def entry(ref: ObjectRef, action: Action, resource_version: str, attempts: int) -> dict[str, Any]:
    """One object's line in SyncSucceeded."""
    return {
        **ref.to_json(),
        "action": action.value,
        "resourceVersion": resource_version,
        "attempts": attempts,
    }


def _rv(obj: dict[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion", ""))


async def _apply(
    client: ClusterClient,
    cache: LiveCache,
    body: dict[str, Any],
    plan: SyncPlan,
    live: Live,
    progress: Progress,
) -> dict[str, Any]:
    ref = ref_of(body)
    with object_span("apply", body) as span:
        outcome = await client.apply(body, guard=progress.guard)
        span.set_attribute("baton.attempts", outcome.attempts)
    progress.written.add(ref.identity)
    if outcome.obj is not None:
        cache.put(outcome.obj)
    before = live.get(ref.identity)
    if ref.identity in plan.created:
        action = Action.CREATED
    elif before is not None and _rv(before) == _rv(outcome.obj):
        action = Action.UNCHANGED  # the server found nothing to change
    else:
        action = Action.CONFIGURED
    return entry(ref, action, _rv(outcome.obj), outcome.attempts)


async def execute(
    client: ClusterClient,
    cache: LiveCache,
    plan: SyncPlan,
    live: Live,
    *,
    owner: tuple[str, str],
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Apply, then prune; the objects' entries in apply order, pruned last.

    A prune candidate is read first and deleted only if it carries baton's labels for
    `owner` (app, environment): baton never deletes what it does not own.
    """
    progress = progress or Progress()
    entries = [await _apply(client, cache, body, plan, live, progress) for body in plan.first]
    results = await asyncio.gather(
        *(_apply(client, cache, body, plan, live, progress) for body in plan.rest),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    entries.extend(r for r in results if isinstance(r, dict))
    for body in plan.unchanged:
        entries.append(
            entry(ref_of(body), Action.UNCHANGED, _rv(live.get(ref_of(body).identity)), 0)
        )
    for ref in plan.prune:
        current = await client.get(ref.api_version, ref.kind, ref.namespace or None, ref.name)
        if current.obj is None or owner_of(current.obj) != owner:
            continue
        shape = {"kind": ref.kind, "metadata": {"name": ref.name, "namespace": ref.namespace}}
        with object_span("prune", shape):
            outcome = await client.delete(
                ref.api_version, ref.kind, ref.namespace or None, ref.name, guard=progress.guard
            )
        cache.drop(ref.identity)
        entries.append(entry(ref, Action.PRUNED, "", outcome.attempts))
    return entries
