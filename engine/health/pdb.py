"""Health of a PodDisruptionBudget, as Argo CD's `policy/PodDisruptionBudget/health.lua`. Pure.

``InsufficientPods`` is not a failure (Argo CD issue 20171: a budget may be met only
during some rollouts); any other condition that is False is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, conditions, number, observed_is_current, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Stale status or no conditions → Progressing; a False condition → Degraded."""
    status = section(obj, "status")
    counts = (
        f"{number(status, 'currentHealthy')} of {number(status, 'desiredHealthy')} "
        f"pods healthy, {number(status, 'disruptionsAllowed')} disruptions allowed"
    )
    if not observed_is_current(obj):
        return Assessment(Health.PROGRESSING, "waiting for the budget to be observed")
    found = conditions(obj)
    for cond in found:
        if cond.get("status") == "False" and cond.get("reason") != "InsufficientPods":
            return Assessment(Health.DEGRADED, f"budget has {cond.get('reason')} ({counts})")
    if found:
        return Assessment(Health.HEALTHY, f"budget has {found[-1].get('reason')} ({counts})")
    return Assessment(Health.PROGRESSING, "waiting for the budget's status")
