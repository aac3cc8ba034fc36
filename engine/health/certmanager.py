"""Health of cert-manager's Certificate, Issuer and ClusterIssuer, as Argo CD reads them. Pure.

A Certificate being issued is Progressing even while its old one is still Ready, so the
check for ``Issuing`` comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, explain, is_true, section


def certificate(obj: Mapping[str, Any]) -> Assessment:
    """Issuing → Progressing; Ready False → Degraded; Ready True → Healthy (with expiry)."""
    issuing = condition(obj, "Issuing")
    if issuing is not None and is_true(issuing):
        return Assessment(Health.PROGRESSING, f"issuing: {explain(issuing, 'in progress')}")
    ready = _ready(obj, "waiting for certificate")
    expiry = section(obj, "status").get("notAfter")
    if ready.status == Health.HEALTHY and expiry:
        return Assessment(Health.HEALTHY, f"{ready.message} (expires {expiry})")
    return ready


def issuer(obj: Mapping[str, Any]) -> Assessment:
    """Ready False → Degraded; Ready True → Healthy; else Progressing."""
    return _ready(obj, "initializing issuer")


def _ready(obj: Mapping[str, Any], waiting: str) -> Assessment:
    ready = condition(obj, "Ready")
    if ready is None or ready.get("status") not in ("True", "False"):
        return Assessment(Health.PROGRESSING, waiting)
    if is_true(ready):
        return Assessment(Health.HEALTHY, explain(ready, "Ready"))
    return Assessment(Health.DEGRADED, explain(ready, "not Ready"))
