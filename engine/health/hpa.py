"""Health of a HorizontalPodAutoscaler from its conditions, as gitops-engine reads it. Pure.

autoscaling/v2 keeps the conditions in ``status.conditions``; autoscaling/v1 in the
``autoscaling.alpha.kubernetes.io/conditions`` annotation, as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, BadShape, conditions, number, section

_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
_DEGRADED = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "InvalidSelector"),
}
_HEALTHY = {
    ("AbleToScale", "SucceededRescale"),
    ("ScalingLimited", "DesiredWithinRange"),
    ("ScalingLimited", "TooFewReplicas"),
    ("ScalingLimited", "TooManyReplicas"),
}


def assess(obj: Mapping[str, Any]) -> Assessment:
    """The first condition that means failure (Degraded) or a settled scale (Healthy)."""
    status = section(obj, "status")
    counts = (
        f"{number(status, 'currentReplicas')} current, "
        f"{number(status, 'desiredReplicas')} desired replicas"
    )
    for cond in _conditions(obj):
        key = (cond.get("type"), cond.get("reason"))
        if key in _DEGRADED:
            return Assessment(Health.DEGRADED, f"{key[1]}: {cond.get('message', '')} ({counts})")
        if key in _HEALTHY:
            return Assessment(Health.HEALTHY, f"{key[1]}: {cond.get('message', '')} ({counts})")
    return Assessment(Health.PROGRESSING, f"waiting to autoscale ({counts})")


def _conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Conditions from the status, else from autoscaling/v1's annotation."""
    found = conditions(obj)
    text = section(section(obj, "metadata"), "annotations").get(_ANNOTATION)
    if found or not isinstance(text, str):
        return found
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise BadShape(f"annotation {_ANNOTATION} is not JSON: {exc}") from None
    if not isinstance(parsed, list):
        raise BadShape(f"annotation {_ANNOTATION} is not a list")
    return [c for c in parsed if isinstance(c, Mapping)]
