"""Health of Flux's resources: Kustomization, HelmRelease and the sources. Pure.

Flux follows kstatus's conventions, with one more: ``spec.suspend`` stops reconciliation,
which is Suspended, as Argo CD's Flux health checks read it; an OCI HelmRepository has
no status at all and is Healthy. ``Ready`` is the verdict; ``Ready=Unknown`` or
``Reconciling=True`` is work under way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.generic import generation_behind
from engine.health.types import Assessment, condition, explain, is_true, section

KINDS = (
    ("kustomize.toolkit.fluxcd.io", "Kustomization"),
    ("helm.toolkit.fluxcd.io", "HelmRelease"),
    ("source.toolkit.fluxcd.io", "GitRepository"),
    ("source.toolkit.fluxcd.io", "OCIRepository"),
    ("source.toolkit.fluxcd.io", "HelmRepository"),
    ("source.toolkit.fluxcd.io", "HelmChart"),
    ("source.toolkit.fluxcd.io", "Bucket"),
)


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Suspended; stale → Progressing; Ready True/False; reconciling → Progressing."""
    kind = obj.get("kind")
    if section(obj, "spec").get("suspend") is True:
        return Assessment(Health.SUSPENDED, f"{kind} is suspended")
    behind = generation_behind(obj)
    if behind is not None:
        return behind
    ready = condition(obj, "Ready")
    if ready is None and kind == "HelmRepository" and section(obj, "spec").get("type") == "oci":
        # Flux leaves an OCI HelmRepository's status empty: it is only an address
        return Assessment(Health.HEALTHY, "HelmRepository of type oci has no status to report")
    if ready is not None and is_true(ready):
        return Assessment(Health.HEALTHY, explain(ready, "Ready"))
    if ready is not None and ready.get("status") == "False":
        return Assessment(Health.DEGRADED, explain(ready, "not Ready"))
    reconciling = condition(obj, "Reconciling")
    if ready is not None or is_true(reconciling):
        return Assessment(
            Health.PROGRESSING, f"reconciling: {explain(ready or reconciling or {}, 'in progress')}"
        )
    return Assessment(Health.PROGRESSING, f"waiting for {kind} to report Ready")
