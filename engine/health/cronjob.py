"""Health of a CronJob, as Argo CD's `batch/CronJob/health.lua` reads it. Pure.

A CronJob cannot say it missed a run, so it is Healthy unless its last run is known to
have failed (scheduled after its last success, with nothing running).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, section


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Suspended; no status yet → Progressing; last run failed → Degraded; else Healthy."""
    if section(obj, "spec").get("suspend") is True:
        return Assessment(Health.SUSPENDED, "cronjob is suspended")
    if obj.get("status") is None:
        return Assessment(Health.PROGRESSING, "waiting for the cronjob's status")
    status = section(obj, "status")
    scheduled, succeeded = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    if not scheduled:
        return Assessment(Health.HEALTHY, "cronjob has not been scheduled yet")
    if not succeeded:
        return Assessment(Health.HEALTHY, "cronjob has not completed a run successfully yet")
    active = status.get("active")
    if isinstance(active, list) and active:
        return Assessment(Health.HEALTHY, f"cronjob has {len(active)} running jobs")
    # RFC 3339 times in UTC compare as strings, as the Lua check compares them
    if str(succeeded) < str(scheduled):
        return Assessment(
            Health.DEGRADED,
            f"cronjob's last run (scheduled {scheduled}) did not complete successfully; "
            f"last success {succeeded}",
        )
    return Assessment(Health.HEALTHY, f"cronjob's last run succeeded at {succeeded}")
