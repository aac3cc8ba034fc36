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
    return load_balancer(obj)


def load_balancer(obj: Mapping[str, Any]) -> Assessment:
    """Healthy once `status.loadBalancer.ingress` has an address (Service and Ingress)."""
    ingress = section(section(obj, "status"), "loadBalancer").get("ingress") or []
    points = [p for p in ingress if isinstance(p, Mapping)] if isinstance(ingress, list) else []
    addresses = [str(p.get("ip") or p.get("hostname")) for p in points if p]
    if addresses:
        return Assessment(
            Health.HEALTHY,
            f"load balancer has {len(addresses)} ingress points: {', '.join(addresses)}",
        )
    return Assessment(Health.PROGRESSING, "waiting for the load balancer's address")
