"""Health of a Deployment, as `kubectl rollout status`, Argo CD and kstatus read it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import (
    Assessment,
    condition,
    explain,
    is_false,
    is_true,
    number,
    section,
)


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Paused → Suspended; stale status or rollout under way → Progressing; deadline
    exceeded or replicas that cannot be created → Degraded; else Healthy."""
    spec, status = section(obj, "spec"), section(obj, "status")
    if spec.get("paused"):
        return Assessment(Health.SUSPENDED, "deployment is paused")
    generation = number(section(obj, "metadata"), "generation")
    observed = number(status, "observedGeneration")
    if generation > observed:
        return Assessment(
            Health.PROGRESSING,
            f"waiting for rollout to start (spec not observed: generation {generation}, "
            f"observed {observed})",
        )
    progressing = condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Assessment(
            Health.DEGRADED,
            f"deployment exceeded its progress deadline: {explain(progressing)}".rstrip(": "),
        )
    failure = condition(obj, "ReplicaFailure")
    if failure is not None and is_true(failure):
        return Assessment(Health.DEGRADED, f"replica failure: {explain(failure, 'check pods')}")
    return _replicas(obj)


def _replicas(obj: Mapping[str, Any]) -> Assessment:
    """The counts `kubectl rollout status` waits on, then the Available condition (kstatus)."""
    spec, status = section(obj, "spec"), section(obj, "status")
    replicas = number(spec, "replicas", default=1)
    updated = number(status, "updatedReplicas")
    total = number(status, "replicas")
    available = number(status, "availableReplicas")
    if updated < replicas:
        return Assessment(Health.PROGRESSING, f"{updated} of {replicas} replicas are updated")
    if total > updated:
        return Assessment(
            Health.PROGRESSING, f"{total - updated} old replicas are pending termination"
        )
    if available < updated:
        return Assessment(
            Health.PROGRESSING, f"{available} of {updated} updated replicas are available"
        )
    available_cond = condition(obj, "Available")
    if available_cond is not None and is_false(available_cond):
        return Assessment(
            Health.PROGRESSING, f"deployment is not available yet: {explain(available_cond)}"
        )
    return Assessment(Health.HEALTHY, f"{available} of {replicas} replicas available")
