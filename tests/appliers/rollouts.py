"""When a Deployment's rollout finished in kubesim, and how long baton took to record it.

Shared by ``tests/appliers/test_watches.py`` and ``bench/health_watch.py``: both time
from the moment kubesim's controller made the last replica available (or ran the rollout
past its progress deadline) to the ``Target.HealthChanged`` event in the log.
"""

from __future__ import annotations

import time
from typing import Any

from engine.store import RecordedEvent
from kubesim import Cluster

Key = tuple[str, str]  # (namespace, name)


def rolled_out(obj: dict[str, Any]) -> bool:
    """Every replica of the Deployment's current generation updated and available, no old
    one left (kubesim writes that in one status update: the last replica turning ready)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    return status.get("observedGeneration") == (obj.get("metadata") or {}).get(
        "generation"
    ) and all(status.get(k) == want for k in ("replicas", "updatedReplicas", "availableReplicas"))


def past_deadline(obj: dict[str, Any]) -> bool:
    """The Deployment's Progressing condition says its progress deadline passed."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
        for c in conditions
    )


class RolloutClock:
    """The wall-clock moments Deployments of one kubesim cluster finished rolling out, or
    ran past their deadline: the last of each per Deployment (seconds since the epoch)."""

    def __init__(self, cluster: Cluster) -> None:
        self.ready: dict[Key, float] = {}
        self.degraded: dict[Key, float] = {}
        self._unsubscribe = cluster.store.subscribe(self._heard)

    def close(self) -> None:
        """Stop listening."""
        self._unsubscribe()

    def _heard(self, event: Any) -> None:
        obj, old = event.obj, event.old
        if obj.get("kind") != "Deployment":
            return
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        if rolled_out(obj) and (old is None or not rolled_out(old)):
            self.ready[key] = time.time()
        if past_deadline(obj) and (old is None or not past_deadline(old)):
            self.degraded[key] = time.time()


def health_lag(events: list[RecordedEvent], health: str, since: float) -> float | None:
    """Seconds from `since` to the first HealthChanged to `health` recorded after it."""
    for event in events:
        if event.type != "Target.HealthChanged" or event.data.get("health") != health:
            continue
        at = event.recorded_at.timestamp()
        if at >= since:
            return at - since
    return None
