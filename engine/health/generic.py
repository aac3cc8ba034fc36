"""The rule for every kind without one of its own (custom resources), after kstatus. Pure.

Where it sits: :func:`engine.health.assess` falls back to :func:`assess` here. It reads
the conventions kstatus documents for any controller: ``status.observedGeneration``
against ``metadata.generation``, the ``Reconciling`` and ``Stalled`` conditions, the
``Ready``/``Available``/``Healthy`` conditions (and Crossplane's ``Synced``, whose False
means the latest reconcile failed, however ready the last good one left the object), then
the common ``status.phase`` words. An object that says nothing about itself is Healthy once
it exists, as kstatus's "Current".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, conditions, explain, number, section

_READINESS = ("Ready", "Available", "Healthy")

_PHASES = {
    **dict.fromkeys(
        ("Running", "Succeeded", "Active", "Bound", "Available", "Ready", "Healthy", "Complete"),
        Health.HEALTHY,
    ),
    **dict.fromkeys(
        ("Pending", "Progressing", "Provisioning", "Creating", "Initializing", "Reconciling"),
        Health.PROGRESSING,
    ),
    **dict.fromkeys(("Failed", "Error", "Degraded"), Health.DEGRADED),
}


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Generation, then Reconciling/Stalled, then readiness conditions, then phase."""
    behind = generation_behind(obj)
    if behind is not None:
        return behind
    return (
        _reconciling_or_stalled(obj)
        or _readiness(obj)
        or _phase(section(obj, "status"))
        or Assessment(Health.HEALTHY, "exists")
    )


def generation_behind(obj: Mapping[str, Any]) -> Assessment | None:
    """Progressing while the controller has not observed the latest spec (kstatus's words)."""
    meta, status = section(obj, "metadata"), section(obj, "status")
    if "generation" not in meta or "observedGeneration" not in status:
        return None  # kstatus: a resource without these fields cannot be checked this way
    generation, observed = number(meta, "generation"), number(status, "observedGeneration")
    if observed >= generation:
        return None
    return Assessment(
        Health.PROGRESSING,
        f"{obj.get('kind')} generation is {generation}, "
        f"but latest observed generation is {observed}",
    )


def _reconciling_or_stalled(obj: Mapping[str, Any]) -> Assessment | None:
    """The first of Reconciling=True (Progressing) or Stalled=True (Degraded), in list order."""
    for cond in conditions(obj):
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Reconciling":
            return Assessment(Health.PROGRESSING, f"reconciling: {explain(cond, 'in progress')}")
        if cond.get("type") == "Stalled":
            return Assessment(Health.DEGRADED, f"stalled: {explain(cond, 'no reason given')}")
    return None


def _readiness(obj: Mapping[str, Any]) -> Assessment | None:
    """Ready/Available/Healthy: any False → Degraded, any Unknown → Progressing, True → Healthy;
    Synced False → Degraded."""
    found = [
        c
        for c in conditions(obj)
        if c.get("type") in _READINESS or (c.get("type") == "Synced" and c.get("status") == "False")
    ]
    for wanted, health in (("False", Health.DEGRADED), ("Unknown", Health.PROGRESSING)):
        for cond in found:
            if cond.get("status") == wanted:
                return Assessment(health, f"{cond['type']} is {wanted}: {explain(cond, '-')}")
    for cond in found:
        if cond.get("status") == "True":
            return Assessment(Health.HEALTHY, f"{cond['type']}: {explain(cond, 'True')}")
    return None


def _phase(status: Mapping[str, Any]) -> Assessment | None:
    """The common `status.phase` words; a phase we do not know says nothing."""
    phase = status.get("phase")
    health = _PHASES.get(phase) if isinstance(phase, str) else None
    if health is None:
        return None
    detail = status.get("message")
    return Assessment(health, f"phase {phase}" + (f": {detail}" if detail else ""))
