"""Deployment controller, simulated: the status a rollout moves through.

Pure. New pods are created one per step (within maxSurge when failing) and become ready
a step later, old pods go as new ones become ready; a failing image never gets ready and,
past the progress deadline, Progressing turns False with ProgressDeadlineExceeded, which
`kubectl rollout status` reports as an error.
"""

from __future__ import annotations

from typing import Any

from kubesim.controllers.model import (
    Progress,
    condition,
    percent_or_int,
    replicas_of,
    template_hash,
)


def _pods(spec: dict[str, Any], p: Progress, want: int) -> tuple[int, int, int]:
    """(new pods created, new pods ready, old pods still running) after `p.steps` steps."""
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    max_surge = percent_or_int(rolling.get("maxSurge", "25%"), want, round_up=True)
    base = 0 if p.template_changed else min(p.old_ready, want)
    old = min(p.old_ready, want) if p.template_changed else 0
    steps = 0 if spec.get("paused") else p.steps
    if p.failing:
        # New pods never get ready, so the surge budget caps how many are created.
        created = min(want, max(1, max_surge)) if p.template_changed else want
        new_ready = 0
    else:
        created = min(want, base + steps)
        new_ready = min(want, base + max(0, steps - 1))
    old_alive = max(0, old - new_ready) if p.template_changed else 0
    return created, new_ready, old_alive


def _progressing(
    obj: dict[str, Any],
    p: Progress,
    *,
    done: bool,
    timed_out: bool,
) -> dict[str, Any]:
    old_status = obj.get("status") or {}
    rs_name = f"{obj['metadata']['name']}-{template_hash(obj)}"
    if (obj.get("spec") or {}).get("paused"):
        return condition(
            old_status,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            p.now,
            with_update_time=True,
        )
    if timed_out:
        return condition(
            old_status,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs_name}" has timed out progressing.',
            p.now,
            with_update_time=True,
        )
    if done:
        return condition(
            old_status,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
            p.now,
            with_update_time=True,
        )
    reason = "ReplicaSetUpdated" if p.steps else "NewReplicaSetCreated"
    return condition(
        old_status,
        "Progressing",
        "True",
        reason,
        f'ReplicaSet "{rs_name}" is progressing.',
        p.now,
        with_update_time=True,
    )


def decide(obj: dict[str, Any], p: Progress) -> tuple[dict[str, Any], bool]:
    """The status after `p.steps` steps, and whether the rollout has settled."""
    spec = obj.get("spec") or {}
    want = replicas_of(obj)
    created, new_ready, old_alive = _pods(spec, p, want)
    ready = new_ready + old_alive
    done = new_ready == want and old_alive == 0 and created == want
    # the deadline counts from the last progress, not from the start: a big rollout that
    # keeps moving is never stuck, however long it takes
    stalled = p.elapsed if p.stalled is None else p.stalled
    timed_out = not done and stalled > p.deadline and not spec.get("paused")
    counts = {
        "replicas": created + old_alive,
        "updatedReplicas": created,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": max(0, want - ready),
    }
    # Zero counts are left out, as the API server's omitempty does.
    status: dict[str, Any] = {
        "observedGeneration": p.generation,
        **{k: v for k, v in counts.items() if v},
    }
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    max_unavailable = percent_or_int(rolling.get("maxUnavailable", "25%"), want, round_up=False)
    available = ready >= want - max_unavailable
    status["conditions"] = [
        condition(
            obj.get("status") or {},
            "Available",
            "True" if available else "False",
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
            p.now,
            with_update_time=True,
        ),
        _progressing(obj, p, done=done, timed_out=timed_out),
    ]
    return status, done or timed_out or bool(spec.get("paused"))
