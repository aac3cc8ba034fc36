"""Health of an APIService: its Available condition, as gitops-engine reads it. Pure.

An APIService that is not available yet is Progressing, not Degraded: its backend may
still be starting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, explain, is_true


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Available True → Healthy; False or Unknown → Progressing; absent → Progressing."""
    available = condition(obj, "Available")
    if available is None:
        return Assessment(Health.PROGRESSING, "waiting to be processed")
    if is_true(available):
        return Assessment(Health.HEALTHY, f"available: {explain(available, 'True')}")
    return Assessment(Health.PROGRESSING, f"not available: {explain(available, '-')}")
