"""Health of Argo's own resources: Argo Rollouts' Rollout and Argo CD's Application. Pure.

The generic reading gets both wrong: a paused Rollout is waiting for a person (Suspended),
an aborted one failed (Degraded); an Application reports the health Argo CD computed for
it and the outcome of its last sync operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, explain, number, section

_FAILED_PROGRESS = ("RolloutAborted", "ProgressDeadlineExceeded")


def rollout(obj: Mapping[str, Any]) -> Assessment:
    """Stale → Progressing; InvalidSpec, aborted or timed out → Degraded; paused → Suspended."""
    spec, status = section(obj, "spec"), section(obj, "status")
    # Argo Rollouts writes observedGeneration as a string; compared only when both are there
    generation, observed = (
        section(obj, "metadata").get("generation"),
        status.get("observedGeneration"),
    )
    if generation is not None and observed is not None and str(observed) != str(generation):
        return Assessment(Health.PROGRESSING, "waiting for rollout spec update to be observed")
    invalid = condition(obj, "InvalidSpec")
    if invalid is not None:
        return Assessment(Health.DEGRADED, f"invalid spec: {invalid.get('message', '')}")
    if status.get("abort"):
        return Assessment(Health.DEGRADED, f"rollout is aborted: {status.get('message', '')}")
    # controllers older than 1.0 write no phase: their Progressing condition says it failed
    progressing = condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") in _FAILED_PROGRESS:
        return Assessment(Health.DEGRADED, f"rollout failed: {explain(progressing, '-')}")
    pauses = status.get("pauseConditions") or []
    if spec.get("paused") or pauses or status.get("phase") == "Paused":
        reasons = [str(p.get("reason")) for p in pauses if isinstance(p, Mapping)]
        detail = f": {', '.join(reasons)}" if reasons else ""
        return Assessment(Health.SUSPENDED, f"rollout is paused{detail}")
    return _rollout_counts(spec, status)


def _rollout_counts(spec: Mapping[str, Any], status: Mapping[str, Any]) -> Assessment:
    """The replica counts, as for a Deployment; Argo Rollouts' own phase when it gives one."""
    replicas = number(spec, "replicas", default=1)
    updated, available = number(status, "updatedReplicas"), number(status, "availableReplicas")
    phase = status.get("phase")
    if phase == "Degraded":
        return Assessment(Health.DEGRADED, f"rollout is degraded: {status.get('message', '')}")
    if updated < replicas:
        return Assessment(Health.PROGRESSING, f"{updated} of {replicas} replicas are updated")
    # blue-green keeps the old replicas for its scale-down delay once the new ones serve,
    # so only a canary waits for them (Argo CD's Rollout check, Argo Rollouts' own phase)
    old = number(status, "replicas") - updated
    if "canary" in section(spec, "strategy") and old > 0:
        return Assessment(Health.PROGRESSING, f"{old} old replicas are pending termination")
    if available < updated:
        return Assessment(
            Health.PROGRESSING, f"{available} of {updated} updated replicas are available"
        )
    if phase == "Progressing":
        return Assessment(
            Health.PROGRESSING, f"rollout is progressing: {status.get('message', '')}"
        )
    leaving = f"; {old} old replicas scaling down" if old > 0 else ""
    return Assessment(
        Health.HEALTHY, f"{min(available, updated)} of {replicas} replicas available{leaving}"
    )


def application(obj: Mapping[str, Any]) -> Assessment:
    """The Application's own health; a failed or running sync operation overrides Healthy."""
    status = section(obj, "status")
    health, sync = section(status, "health"), section(status, "sync")
    synced = f"sync {sync.get('status', 'Unknown')}" + (
        f" to {str(sync['revision'])[:12]}" if sync.get("revision") else ""
    )
    reported = health.get("status")
    if reported not in set(Health):
        return Assessment(
            Health.PROGRESSING, f"waiting for application to be reconciled ({synced})"
        )
    operation = section(status, "operationState")
    phase, said = operation.get("phase"), operation.get("message", "")
    if phase in ("Failed", "Error"):
        return Assessment(Health.DEGRADED, f"sync operation {phase}: {said} ({synced})")
    if reported == Health.HEALTHY and phase in ("Running", "Terminating"):
        return Assessment(Health.PROGRESSING, f"sync operation {phase}: {said} ({synced})")
    message = health.get("message") or str(reported).lower()
    return Assessment(Health(reported), f"{message} ({synced})")
