"""Health of a bare Pod: phase, then container readiness and crash loops. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, section

_STUCK = {
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
}


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Succeeded → Healthy; Failed or a stuck container → Degraded; Ready → Healthy."""
    status = section(obj, "status")
    phase = status.get("phase", "Pending")
    if phase == "Succeeded":
        return Assessment(Health.HEALTHY, "pod completed")
    if phase == "Failed":
        return Assessment(
            Health.DEGRADED, f"pod failed: {status.get('message') or status.get('reason', '')}"
        )
    statuses = [s for s in status.get("containerStatuses") or () if isinstance(s, Mapping)]
    for s in statuses:
        waiting = section(section(s, "state"), "waiting")
        if waiting.get("reason") in _STUCK:
            return Assessment(
                Health.DEGRADED, f"container {s.get('name')}: {waiting.get('reason')}"
            )
    ready = sum(1 for s in statuses if s.get("ready"))
    ready_cond = condition(obj, "Ready")
    if phase == "Running" and ready_cond is not None and ready_cond.get("status") == "True":
        return Assessment(Health.HEALTHY, f"{ready} of {len(statuses)} containers ready")
    return Assessment(
        Health.PROGRESSING, f"pod {phase}: {ready} of {len(statuses)} containers ready"
    )
