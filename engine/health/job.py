"""Health of a Job: Failed → Degraded, Complete → Healthy, suspended → Suspended. Pure.

The conditions come first (gitops-engine, kstatus); a job whose failed pods already
exceed its backoff limit is Degraded even before the controller writes ``Failed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, explain, is_true, number, section

_DEFAULT_BACKOFF_LIMIT = 6  # the API's default for spec.backoffLimit


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Conditions first (Failed, Complete, Suspended), then the backoff limit, else running."""
    spec, status = section(obj, "spec"), section(obj, "status")
    succeeded, failed = number(status, "succeeded"), number(status, "failed")
    limit = number(spec, "backoffLimit", default=_DEFAULT_BACKOFF_LIMIT)
    failed_cond = condition(obj, "Failed")
    if failed_cond is not None and is_true(failed_cond):
        if failed_cond.get("reason") == "BackoffLimitExceeded":
            return Assessment(
                Health.DEGRADED,
                f"job failed: {failed} failed pods reached its backoff limit of {limit}",
            )
        return Assessment(Health.DEGRADED, f"job failed: {explain(failed_cond, 'no reason given')}")
    if is_true(condition(obj, "Complete")):
        completions = number(spec, "completions", default=number(spec, "parallelism", 1))
        return Assessment(
            Health.HEALTHY, f"job completed: {succeeded} succeeded of {completions} completions"
        )
    if is_true(condition(obj, "Suspended")) or spec.get("suspend"):
        return Assessment(Health.SUSPENDED, "job is suspended")
    if failed > limit:
        return Assessment(
            Health.DEGRADED, f"{failed} failed pods exceed the job's backoff limit of {limit}"
        )
    active = number(status, "active")
    return Assessment(
        Health.PROGRESSING, f"job running: {active} active, {succeeded} succeeded, {failed} failed"
    )
