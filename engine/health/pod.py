"""Health of a bare Pod, in gitops-engine's order: stuck containers, then phase. Pure.

A pod with ``restartPolicy`` OnFailure or Never has a finite life (a hook, a one-off
task): Argo CD reads it as Progressing until it ends, and does not judge its waiting
containers, so a hook whose image appears later is not failed too early.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health.types import Assessment, condition, is_false, is_true, section

# the waiting reasons named by the issue; gitops-engine adds any "Err*", "*Error", "*BackOff"
_INIT, _MAIN = "initContainerStatuses", "containerStatuses"
_STUCK = {"InvalidImageName", "ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"}


def assess(obj: Mapping[str, Any]) -> Assessment:
    """Stuck containers (restartPolicy Always) → Degraded, then by phase."""
    spec, status = section(obj, "spec"), section(obj, "status")
    policy = spec.get("restartPolicy") or "Always"
    if policy == "Always":
        stuck = [_waiting(s) for s in _statuses(status, _INIT, _MAIN) if _is_stuck(s)]
        if stuck:
            return Assessment(Health.DEGRADED, ", ".join(stuck))
    phase = status.get("phase") or "Pending"
    if phase == "Pending":
        return _pending(obj, status)
    if phase == "Succeeded":
        return Assessment(Health.HEALTHY, "pod completed successfully")
    if phase == "Failed":
        return Assessment(Health.DEGRADED, _failure(status))
    if phase == "Running":
        return _running(obj, status, policy)
    return Assessment(Health.UNKNOWN, f"pod phase is {phase}")


def _statuses(status: Mapping[str, Any], *names: str) -> list[Mapping[str, Any]]:
    """The container statuses of the lists named, in that order."""
    found: list[Mapping[str, Any]] = []
    for name in names:
        value = status.get(name) or []
        found += [s for s in value if isinstance(s, Mapping)] if isinstance(value, list) else []
    return found


def _is_stuck(ctr: Mapping[str, Any]) -> bool:
    reason = str(section(section(ctr, "state"), "waiting").get("reason") or "")
    return reason in _STUCK or reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _waiting(ctr: Mapping[str, Any]) -> str:
    waiting = section(section(ctr, "state"), "waiting")
    detail = f": {waiting['message']}" if waiting.get("message") else ""
    return f"container {ctr.get('name')} is waiting: {waiting.get('reason')}{detail}"


def _pending(obj: Mapping[str, Any], status: Mapping[str, Any]) -> Assessment:
    """Pending: not scheduled yet, or init containers still running (Argo CD: Progressing)."""
    scheduled = condition(obj, "PodScheduled")
    if scheduled is not None and is_false(scheduled) and scheduled.get("reason") == "Unschedulable":
        why = scheduled.get("message") or "no node fits"
        return Assessment(Health.PROGRESSING, f"pod cannot be scheduled yet: {why}")
    inits = _statuses(status, _INIT)
    if inits:
        done = sum(1 for s in inits if s.get("ready") or _exit_code(s) == 0)
        return Assessment(
            Health.PROGRESSING, f"pod is Pending: {done} of {len(inits)} init containers done"
        )
    waiting = [_waiting(s) for s in _statuses(status, _INIT, _MAIN) if _is_stuck(s)]
    detail = f": {', '.join(waiting)}" if waiting else _detail(status)
    return Assessment(Health.PROGRESSING, f"pod is Pending{detail}")


def _running(obj: Mapping[str, Any], status: Mapping[str, Any], policy: str) -> Assessment:
    """Running: Ready → Healthy; a container that terminated before → Degraded."""
    containers = _statuses(status, _MAIN)
    ready = sum(1 for s in containers if s.get("ready"))
    counts = f"{ready} of {len(containers)} containers ready"
    if policy != "Always":
        return Assessment(Health.PROGRESSING, f"pod is running (restartPolicy {policy}): {counts}")
    if is_true(condition(obj, "Ready")):
        return Assessment(Health.HEALTHY, counts)
    for ctr in containers:
        last = section(section(ctr, "lastState"), "terminated")
        if last:
            return Assessment(
                Health.DEGRADED,
                f"{counts}; container {ctr.get('name')} restarted "
                f"{ctr.get('restartCount', 0)} times, last {_terminated(last)}",
            )
    return Assessment(Health.PROGRESSING, f"pod is running: {counts}")


def _failure(status: Mapping[str, Any]) -> str:
    """Why a pod failed: its own message, else the first container that says why."""
    if status.get("message"):
        return f"pod failed: {status['message']}"
    for ctr in _statuses(status, _INIT, _MAIN):
        terminated = section(section(ctr, "state"), "terminated")
        if terminated and (terminated.get("message") or terminated.get("exitCode")):
            return f"pod failed: container {ctr.get('name')} {_terminated(terminated)}"
    return "pod failed"


def _terminated(terminated: Mapping[str, Any]) -> str:
    """How a container ended ("OOMKilled with exit code 137")."""
    reason = terminated.get("reason") or "terminated"
    text = f"{reason} with exit code {terminated.get('exitCode', '?')}"
    return text + (f": {terminated['message']}" if terminated.get("message") else "")


def _exit_code(ctr: Mapping[str, Any]) -> object:
    return section(section(ctr, "state"), "terminated").get("exitCode")


def _detail(status: Mapping[str, Any]) -> str:
    return f": {status['message']}" if status.get("message") else ""
