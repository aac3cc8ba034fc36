"""Health of a StatefulSet (RollingUpdate as `kubectl rollout status`; OnDelete is
Healthy once observed). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, number, observed_is_current, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Stale status, missing ready replicas or an unfinished revision → Progressing."""
    spec, status = section(obj, "spec"), section(obj, "status")
    if not observed_is_current(obj):
        return Assessment(Health.PROGRESSING, "waiting for statefulset spec update to be observed")
    replicas = number(spec, "replicas", default=1)
    ready = number(status, "readyReplicas")
    if ready < replicas:
        return Assessment(Health.PROGRESSING, f"{ready} of {replicas} pods are ready")
    strategy = section(spec, "updateStrategy")
    if strategy.get("type") == "OnDelete":
        return Assessment(Health.HEALTHY, f"{ready} of {replicas} pods ready (OnDelete)")
    partition = number(section(strategy, "rollingUpdate"), "partition")
    # the API omits a zero updatedReplicas: absent is none updated, as gitops-engine reads it
    updated = number(status, "updatedReplicas")
    if updated < replicas - partition:
        return Assessment(
            Health.PROGRESSING, f"{updated} of {replicas - partition} pods are updated"
        )
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if partition == 0 and update and current != update:
        return Assessment(Health.PROGRESSING, f"waiting for revision {update} to roll out")
    if partition:
        return Assessment(
            Health.HEALTHY,
            f"{ready} of {replicas} pods ready; partitioned roll out complete: "
            f"{updated} pods above partition {partition} updated",
        )
    return Assessment(Health.HEALTHY, f"{ready} of {replicas} pods ready")
