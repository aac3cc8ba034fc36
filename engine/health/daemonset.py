"""Health of a DaemonSet, as `kubectl rollout status` reads it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, number, observed_is_current, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Stale status, pods not updated or not available → Progressing; OnDelete → Healthy."""
    spec, status = section(obj, "spec"), section(obj, "status")
    if not observed_is_current(obj):
        return Assessment(Health.PROGRESSING, "waiting for daemon set spec update to be observed")
    if section(spec, "updateStrategy").get("type") == "OnDelete":
        return Assessment(Health.HEALTHY, "update strategy is OnDelete")
    desired = number(status, "desiredNumberScheduled")
    updated = number(status, "updatedNumberScheduled")
    available = number(status, "numberAvailable")
    if updated < desired:
        return Assessment(Health.PROGRESSING, f"{updated} of {desired} updated pods are scheduled")
    if available < desired:
        return Assessment(
            Health.PROGRESSING, f"{available} of {desired} updated pods are available"
        )
    return Assessment(Health.HEALTHY, f"{available} of {desired} pods available")
