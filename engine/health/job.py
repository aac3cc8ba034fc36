"""Health of a Job: Failed → Degraded, Complete → Healthy, suspended → Suspended. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, number, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Conditions first (Failed, Complete), then suspension, else running."""
    status = section(obj, "status")
    succeeded, failed = number(status, "succeeded"), number(status, "failed")
    failed_cond = condition(obj, "Failed")
    if failed_cond is not None and failed_cond.get("status") == "True":
        return Assessment(
            Health.DEGRADED,
            f"job failed ({failed} failed pods): "
            + str(failed_cond.get("message") or failed_cond.get("reason", "")),
        )
    complete = condition(obj, "Complete")
    if complete is not None and complete.get("status") == "True":
        return Assessment(Health.HEALTHY, f"job completed ({succeeded} succeeded pods)")
    if section(obj, "spec").get("suspend"):
        return Assessment(Health.SUSPENDED, "job is suspended")
    active = number(status, "active")
    return Assessment(Health.PROGRESSING, f"job running: {active} active, {succeeded} succeeded")
