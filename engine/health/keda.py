"""Health of a KEDA ScaledObject, as Argo CD's `keda.sh/ScaledObject/health.lua` reads it. Pure.

``Fallback=True`` means KEDA lost its metrics and scales to the fallback replicas: Degraded.
``Paused=True`` on a ready object is Suspended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, explain, is_false, is_true


def scaled_object(obj: Mapping[str, Any]) -> Assessment:
    """Ready False or Fallback → Degraded; Ready and Paused → Suspended; Ready → Healthy."""
    ready, fallback = condition(obj, "Ready"), condition(obj, "Fallback")
    paused = condition(obj, "Paused")
    if ready is not None and is_false(ready):
        return Assessment(Health.DEGRADED, f"not ready: {explain(ready, '-')}")
    if fallback is not None and is_true(fallback):
        return Assessment(Health.DEGRADED, f"using fallback replicas: {explain(fallback, '-')}")
    if ready is not None and is_true(ready):
        if paused is not None and is_true(paused):
            return Assessment(Health.SUSPENDED, f"scaling is paused: {explain(paused, '-')}")
        return Assessment(Health.HEALTHY, explain(ready, "ready"))
    return Assessment(Health.PROGRESSING, "creating the HorizontalPodAutoscaler")
