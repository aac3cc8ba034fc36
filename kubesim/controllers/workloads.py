"""StatefulSet, DaemonSet and Job controllers, simulated in a simpler form than Deployments.

Pure, like `deployment.py`: each `decide_*` maps an object and its `Progress` to the
status a real controller would have written by then, and whether it has settled.
"""

from __future__ import annotations

from typing import Any

from kubesim.controllers.model import Progress, condition, replicas_of, template_hash


def decide_statefulset(obj: dict[str, Any], p: Progress) -> tuple[dict[str, Any], bool]:
    """Pods are replaced one at a time, in order; a failing image stalls the rollout."""
    want = replicas_of(obj)
    old_status = obj.get("status") or {}
    revision = f"{obj['metadata']['name']}-{template_hash(obj)}"
    current_revision = old_status.get("currentRevision") or revision
    base = 0 if p.template_changed else min(p.old_ready, want)
    updated = min(want, base + p.steps) if not p.failing else min(want, base + 1)
    ready_new = 0 if p.failing else min(want, base + max(0, p.steps - 1))
    old = min(p.old_ready, want) if p.template_changed else 0
    ready = min(want, ready_new + max(0, old - updated))
    done = ready_new == want
    status: dict[str, Any] = {
        "observedGeneration": p.generation,
        "replicas": max(want, updated),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": want if done else max(0, want - updated),
        "updatedReplicas": updated,
        "currentRevision": revision if done else current_revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }
    return status, done


def decide_daemonset(obj: dict[str, Any], p: Progress) -> tuple[dict[str, Any], bool]:
    """One pod per simulated node, updated one node per step."""
    nodes = p.nodes
    base = 0 if p.template_changed else nodes
    updated = min(nodes, base + p.steps)
    ready = 0 if p.failing else min(nodes, base + max(0, p.steps - 1))
    if p.failing and p.template_changed:
        updated = min(nodes, 1)
    old_ready = min(p.old_ready, nodes) if p.template_changed else 0
    available = min(nodes, ready + max(0, old_ready - updated))
    done = ready == nodes
    status = {
        "observedGeneration": p.generation,
        "desiredNumberScheduled": nodes,
        "currentNumberScheduled": nodes,
        "updatedNumberScheduled": updated,
        "numberReady": available,
        "numberAvailable": available,
        "numberMisscheduled": 0,
    }
    if nodes - available:
        status["numberUnavailable"] = nodes - available
    return status, done


def decide_job(obj: dict[str, Any], p: Progress, duration: float) -> tuple[dict[str, Any], bool]:
    """Runs for `duration` seconds, then completes, or fails when its image fails."""
    spec = obj.get("spec") or {}
    old_status = obj.get("status") or {}
    completions = int(spec.get("completions") or 1)
    parallelism = int(spec.get("parallelism") or 1)
    start = old_status.get("startTime") or p.now
    if spec.get("suspend"):
        return {
            "conditions": [
                condition(old_status, "Suspended", "True", "JobSuspended", "Job suspended", p.now)
            ]
        }, True
    if p.elapsed < duration:
        return {
            "startTime": start,
            "active": min(parallelism, completions),
            "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }, False
    if p.failing:
        backoff = int(spec.get("backoffLimit", 6))
        message = "Job has reached the specified backoff limit"
        return {
            "startTime": start,
            "failed": backoff + 1,
            "terminating": 0,
            "ready": 0,
            "uncountedTerminatedPods": {},
            "conditions": [
                condition(
                    old_status, "FailureTarget", "True", "BackoffLimitExceeded", message, p.now
                ),
                condition(old_status, "Failed", "True", "BackoffLimitExceeded", message, p.now),
            ],
        }, True
    return {
        "startTime": start,
        "completionTime": old_status.get("completionTime") or p.now,
        "succeeded": completions,
        "terminating": 0,
        "ready": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            condition(
                old_status,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                p.now,
            ),
            condition(
                old_status,
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                p.now,
            ),
        ],
    }, True
