"""Health of a PersistentVolumeClaim: Bound → Healthy, Lost → Degraded. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """By phase; a claim still Pending is Progressing."""
    phase = section(obj, "status").get("phase", "Pending")
    if phase == "Bound":
        return Assessment(Health.HEALTHY, "claim is bound")
    if phase == "Lost":
        return Assessment(Health.DEGRADED, "claim lost its volume")
    return Assessment(Health.PROGRESSING, f"claim is {phase}")
