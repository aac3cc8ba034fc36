"""Health of a Namespace: Active → Healthy, Terminating → Progressing. Pure.

A namespace that is being deleted is read as "pending deletion" before this rule; this
one still names why a deletion is stuck when the status says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, conditions, explain, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """By phase; a namespace that says nothing yet is Healthy once it exists (kstatus)."""
    phase = section(obj, "status").get("phase")
    if phase == "Terminating":
        stuck = [
            explain(c, str(c.get("type")))
            for c in conditions(obj)
            if c.get("status") == "True" and str(c.get("type", "")).startswith("NamespaceDeletion")
        ]
        detail = f": {'; '.join(stuck)}" if stuck else ""
        return Assessment(Health.PROGRESSING, f"namespace is terminating{detail}")
    if phase in (None, "Active"):
        return Assessment(Health.HEALTHY, "namespace is active")
    return Assessment(Health.UNKNOWN, f"namespace phase is {phase}")
