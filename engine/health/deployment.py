"""Health of a Deployment, as `kubectl rollout status` and Argo CD read it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, number, observed_is_current, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Paused → Suspended; stale status or rollout under way → Progressing; deadline
    exceeded → Degraded; else Healthy."""
    spec, status = section(obj, "spec"), section(obj, "status")
    if spec.get("paused"):
        return Assessment(Health.SUSPENDED, "deployment is paused")
    if not observed_is_current(obj):
        return Assessment(Health.PROGRESSING, "waiting for rollout to start (spec not observed)")
    progressing = condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Assessment(
            Health.DEGRADED,
            f"deployment exceeded its progress deadline: {progressing.get('message', '')}".strip(),
        )
    replicas = number(spec, "replicas", default=1)
    updated = number(status, "updatedReplicas")
    total = number(status, "replicas")
    available = number(status, "availableReplicas")
    if updated < replicas:
        return Assessment(
            Health.PROGRESSING, f"{updated} of {replicas} updated replicas are available"
        )
    if total > updated:
        return Assessment(
            Health.PROGRESSING, f"{total - updated} old replicas are pending termination"
        )
    if available < updated:
        return Assessment(
            Health.PROGRESSING, f"{available} of {updated} updated replicas are available"
        )
    return Assessment(Health.HEALTHY, f"{available} of {replicas} replicas available")
