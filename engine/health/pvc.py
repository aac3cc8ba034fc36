"""Health of a PersistentVolumeClaim by phase, as gitops-engine reads it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, section

_PHASES = {
    "Bound": (Health.HEALTHY, "claim is bound"),
    "Pending": (Health.PROGRESSING, "claim is Pending"),
    "Lost": (Health.DEGRADED, "claim lost its volume"),
}


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Bound → Healthy, Pending → Progressing, Lost → Degraded, else Unknown."""
    status = section(obj, "status")
    phase = status.get("phase", "Pending")
    health, message = _PHASES.get(phase, (Health.UNKNOWN, f"claim phase is {phase}"))
    capacity = section(status, "capacity").get("storage")
    volume = section(obj, "spec").get("volumeName")
    details = [f"volume {volume}" if volume else "", str(capacity or "")]
    detail = ", ".join(d for d in details if d)
    return Assessment(health, f"{message} ({detail})" if detail else message)
