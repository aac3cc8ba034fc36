"""Shared vocabulary of the simulated controllers: rollout progress and conditions.

The kind modules (`deployment.py`, `statefulset.py`, `daemonset.py`, `job.py`) are pure:
each `decide()` maps an object and its `Progress` to the status a real controller would
have written by then. `manager.py` measures progress and writes the status.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the rollout of the object's current generation has come."""

    generation: int
    steps: int  # rollout steps taken so far (one replica becomes ready per step)
    elapsed: float  # seconds since the controller observed this generation
    old_ready: int  # ready pods of the previous template when this rollout began
    template_changed: bool  # False for a pure scale: existing pods stay current
    failing: bool  # an image of the pod template is marked as never becoming ready
    deadline: float  # seconds the rollout may take before it counts as stuck
    nodes: int  # simulated nodes (DaemonSet pods)
    now: str  # timestamp for conditions
    # seconds since the rollout last made progress (a pod created, ready or gone), which
    # is what a real Deployment's progress deadline counts; None: `elapsed`
    stalled: float | None = None


def _typed(value: Any) -> Any:
    """A template as Go's typed structs see it: empty maps and lists are no values."""
    if isinstance(value, dict):
        kept = {k: _typed(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def template_hash(obj: dict[str, Any]) -> str:
    """A stable short hash of the pod template, like pod-template-hash.

    `resources: {}` (which kubectl sends) and no resources hash alike, as they do for the
    real controller, so `kubectl rollout undo` returns to the old ReplicaSet.
    """
    template = (obj.get("spec") or {}).get("template") or {}
    # Stored objects are never changed in place, and a status write shares the template
    # with the version before it: so a hash can be remembered per template object.
    cached = _HASHES.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    if len(_HASHES) > 10_000:
        _HASHES.clear()
    digest = _hash(template)
    _HASHES[id(template)] = (template, digest)
    return digest


_HASHES: dict[int, tuple[dict[str, Any], str]] = {}


def _hash(template: dict[str, Any]) -> str:
    labels = (template.get("metadata") or {}).get("labels") or {}
    if "pod-template-hash" in labels:  # a ReplicaSet's template: hash it as its Deployment's
        template = {
            **template,
            "metadata": {
                **template["metadata"],
                "labels": {k: v for k, v in labels.items() if k != "pod-template-hash"},
            },
        }
    digest = hashlib.sha256(json.dumps(_typed(template), sort_keys=True).encode()).hexdigest()
    return digest[:10]


def pod_images(obj: dict[str, Any]) -> list[str]:
    """Images of every container of the pod template (or of the Pod itself)."""
    spec = obj.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {} if "template" in spec else spec
    containers = (pod.get("containers") or []) + (pod.get("initContainers") or [])
    return [str(c.get("image", "")) for c in containers if isinstance(c, dict)]


def condition(
    old_status: dict[str, Any],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    with_update_time: bool = False,
) -> dict[str, Any]:
    """A condition that keeps its lastTransitionTime while its status does not change."""
    previous = next((c for c in old_status.get("conditions") or [] if c.get("type") == type_), None)
    transition = now
    if previous is not None and previous.get("status") == status:
        transition = previous.get("lastTransitionTime", now)
    out: dict[str, Any] = {"type": type_, "status": status}
    if with_update_time:
        same = (
            previous is not None
            and previous.get("reason") == reason
            and previous.get("status") == status
        )
        out["lastUpdateTime"] = previous.get("lastUpdateTime", now) if same and previous else now
    out.update(lastTransitionTime=transition, reason=reason, message=message)
    return out


def replicas_of(obj: dict[str, Any]) -> int:
    """spec.replicas, defaulting to 1."""
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def percent_or_int(value: Any, total: int, *, round_up: bool) -> int:
    """Resolve a maxSurge/maxUnavailable value ("25%" or 1) against a replica count."""
    if isinstance(value, str) and value.endswith("%"):
        share = int(value[:-1]) * total
        return -(-share // 100) if round_up else share // 100
    return int(value or 0)
