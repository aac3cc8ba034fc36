"""Health of a ReplicaSet, as gitops-engine reads it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import (
    Assessment,
    condition,
    explain,
    is_true,
    number,
    observed_is_current,
    section,
)


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Stale status → Progressing; ReplicaFailure → Degraded; too few available → Progressing."""
    if not observed_is_current(obj):
        return Assessment(Health.PROGRESSING, "waiting for replica set spec update to be observed")
    failure = condition(obj, "ReplicaFailure")
    if failure is not None and is_true(failure):
        return Assessment(Health.DEGRADED, f"replica failure: {explain(failure, 'check pods')}")
    replicas = number(section(obj, "spec"), "replicas", default=1)
    available = number(section(obj, "status"), "availableReplicas")
    if available < replicas:
        return Assessment(Health.PROGRESSING, f"{available} of {replicas} replicas are available")
    return Assessment(Health.HEALTHY, f"{available} of {replicas} replicas available")
