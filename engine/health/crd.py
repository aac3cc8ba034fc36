"""Health of a CustomResourceDefinition: Established and NamesAccepted. Pure.

gitops-engine's order of checks, with kstatus's one refinement: Established False with
reason ``Installing`` is still Progressing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, conditions, explain, is_false, is_true


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Terminating → Progressing; names refused or not established → Degraded."""
    if not conditions(obj):
        return Assessment(Health.PROGRESSING, "status conditions not found")
    terminating = condition(obj, "Terminating")
    if terminating is not None and is_true(terminating):
        return Assessment(Health.PROGRESSING, f"CRD is being terminated: {explain(terminating)}")
    names = condition(obj, "NamesAccepted")
    if names is not None and is_false(names):
        return Assessment(Health.DEGRADED, f"CRD names have not been accepted: {explain(names)}")
    established = condition(obj, "Established")
    if established is None or not is_true(established):
        why = explain(established or {}, "no Established condition")
        if established is not None and established.get("reason") == "Installing":
            return Assessment(Health.PROGRESSING, f"CRD is being installed: {why}")
        return Assessment(Health.DEGRADED, f"CRD is not established: {why}")
    schema = condition(obj, "NonStructuralSchema")
    if schema is not None and is_true(schema):
        return Assessment(Health.DEGRADED, f"schema violations found: {explain(schema)}")
    return Assessment(Health.HEALTHY, "CRD is established and its names accepted")
