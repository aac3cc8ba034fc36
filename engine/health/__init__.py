"""Health rules: how healthy one live Kubernetes object is. Pure functions, no I/O.

Where it sits: the applier's observe phase reads the live objects of a target; its decide
phase calls :func:`assess` on each and :func:`combine` on the results to get the
target's health and the per-object reasons recorded in ``HealthChanged``.

The shape follows gitops-engine's ``pkg/health``: one module per kind, each a pure
function returning ``(status, message)`` with counts in the message; a dict keyed by
``(group, kind)``; unknown kinds are not errors (they count as Healthy once they exist);
an exception inside a rule becomes ``Unknown`` with the exception as the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health import daemonset, deployment, job, pod, pvc, service, statefulset
from engine.health.lua import CustomChecks
from engine.health.types import Assessment, Rule

RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): deployment.assess,
    ("apps", "StatefulSet"): statefulset.assess,
    ("apps", "DaemonSet"): daemonset.assess,
    ("batch", "Job"): job.assess,
    ("", "Pod"): pod.assess,
    ("", "PersistentVolumeClaim"): pvc.assess,
    ("", "Service"): service.assess,
}


def rule_for(api_version: str, kind: str) -> Rule | None:
    """The rule of a kind, or None for kinds without one (not an error)."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    return RULES.get((group, kind))


def assess(obj: Mapping[str, Any] | None, checks: CustomChecks | None = None) -> Assessment:
    """Health of one live object, and the rule that gave it; None (not found) is Missing.

    A user's check (``checks``) wins over the built-in rule of its group/kind.
    """
    if obj is None:
        return Assessment(Health.MISSING, "not found in the cluster", "missing")
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if checks is not None and (check := checks.find(api_version, kind)) is not None:
        return checks.run(check, obj)
    rule = rule_for(api_version, kind)
    if rule is None:
        return Assessment(Health.HEALTHY, "exists", "generic")
    name = rule_name(rule)
    try:
        return rule(obj)._replace(rule=name)
    except Exception as exc:  # a rule must never take the applier down
        return Assessment(Health.UNKNOWN, f"cannot assess: {type(exc).__name__}: {exc}", name)


def rule_name(rule: Rule) -> str:
    """A built-in rule's name as explain shows it: ``built-in deployment``."""
    return f"built-in {rule.__module__.rsplit('.', 1)[-1]}"


def combine(results: Iterable[tuple[str, Assessment]]) -> tuple[Health, list[str]]:
    """The worst health of `(object name, assessment)` pairs, and why, worst first.

    Reasons name every object that is not Healthy; a Healthy target says how many objects
    it checked.
    """
    worst = Health.HEALTHY
    reasons: list[tuple[Health, str]] = []
    count = 0
    for name, result in results:
        count += 1
        if result.status.is_worse(worst):
            worst = result.status
        if result.status != Health.HEALTHY:
            reasons.append((result.status, f"{name}: {result.status}: {result.message}"))
    if worst == Health.HEALTHY:
        return worst, [f"{count} of {count} objects healthy"]
    reasons.sort(key=lambda r: _ORDER.index(r[0]), reverse=True)
    return worst, [text for _, text in reasons]


_ORDER = [
    Health.HEALTHY,
    Health.SUSPENDED,
    Health.PROGRESSING,
    Health.MISSING,
    Health.DEGRADED,
    Health.UNKNOWN,
]

__all__ = ["RULES", "Assessment", "CustomChecks", "Rule", "assess", "combine", "rule_for"]
