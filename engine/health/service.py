"""Health of a Service: a LoadBalancer waits for an ingress address. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Other service types are Healthy as soon as they exist."""
    if section(obj, "spec").get("type") != "LoadBalancer":
        return Assessment(Health.HEALTHY, "service exists")
    ingress = section(section(obj, "status"), "loadBalancer").get("ingress") or []
    if ingress:
        return Assessment(Health.HEALTHY, f"load balancer has {len(ingress)} ingress points")
    return Assessment(Health.PROGRESSING, "waiting for the load balancer's address")
