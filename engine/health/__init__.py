"""Health rules: how healthy one live Kubernetes object is. Pure functions, no I/O.

Where it sits: the applier's observe phase reads the live objects of a target; its decide
phase calls :func:`assess` on each and :func:`combine` on the results to get the
target's health and the per-object reasons recorded in ``HealthChanged``.

The shape follows gitops-engine's ``pkg/health``: one module per kind, each a pure
function returning ``(status, message)`` with counts in the message; a dict keyed by
``(group, kind)``; kinds without a rule of their own are read by :mod:`.generic` (kstatus's
conventions; Healthy once they exist when they say nothing); an object being deleted is
Progressing whatever its kind; an odd shape or an exception inside a rule becomes
``Unknown`` with the reason as the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.domain.enums import Health
from engine.health import (
    apiservice,
    argo,
    certmanager,
    crd,
    cronjob,
    daemonset,
    deployment,
    flux,
    generic,
    hpa,
    job,
    keda,
    namespace,
    pdb,
    pod,
    pvc,
    replicaset,
    service,
    statefulset,
)
from engine.health.lua import CustomChecks
from engine.health.types import Assessment, BadShape, Rule, section

RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): deployment.assess,
    ("apps", "StatefulSet"): statefulset.assess,
    ("apps", "DaemonSet"): daemonset.assess,
    ("apps", "ReplicaSet"): replicaset.assess,
    ("batch", "Job"): job.assess,
    ("batch", "CronJob"): cronjob.assess,
    ("", "Pod"): pod.assess,
    ("", "PersistentVolumeClaim"): pvc.assess,
    ("", "Service"): service.assess,
    ("", "Namespace"): namespace.assess,
    ("networking.k8s.io", "Ingress"): service.load_balancer,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa.assess,
    ("policy", "PodDisruptionBudget"): pdb.assess,
    ("apiregistration.k8s.io", "APIService"): apiservice.assess,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd.assess,
    ("argoproj.io", "Rollout"): argo.rollout,
    ("argoproj.io", "Application"): argo.application,
    ("cert-manager.io", "Certificate"): certmanager.certificate,
    ("cert-manager.io", "Issuer"): certmanager.issuer,
    ("cert-manager.io", "ClusterIssuer"): certmanager.issuer,
    ("keda.sh", "ScaledObject"): keda.scaled_object,
    **{(group, kind): flux.assess for group, kind in flux.KINDS},
}


def rule_for(api_version: str, kind: str) -> Rule | None:
    """The rule written for a kind, or None for kinds the generic rule reads (not an error)."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    return RULES.get((group, kind))


def assess(obj: Mapping[str, Any] | None, checks: CustomChecks | None = None) -> Assessment:
    """Health of one live object, and the rule that gave it; None (not found) is Missing.

    Order, as gitops-engine's ``GetResourceHealth``: an object of odd shape is Unknown;
    one being deleted is Progressing whatever its kind; then a user's check (``checks``,
    Argo CD's Lua format) for its group/kind, else the kind's rule, else the generic one.
    """
    if obj is None:
        return Assessment(Health.MISSING, "not found in the cluster", "missing")
    odd = _odd_shape(obj)
    if odd is not None:
        return Assessment(Health.UNKNOWN, f"cannot assess: {odd}", "shape")
    deleting = _pending_deletion(obj)
    if deleting is not None:
        return deleting
    api_version, kind = str(obj.get("apiVersion") or ""), obj["kind"]
    if checks is not None and (check := checks.find(api_version, kind)) is not None:
        return checks.run(check, obj)
    return run(rule_for(api_version, kind) or generic.assess, obj)


def run(rule: Rule, obj: Mapping[str, Any]) -> Assessment:
    """`rule(obj)` named after its rule, with any failure inside it read as Unknown."""
    name = rule_name(rule)
    try:
        return rule(obj)._replace(rule=name)
    except BadShape as exc:
        return Assessment(Health.UNKNOWN, f"cannot assess: {exc}", name)
    except Exception as exc:  # a rule must never take the applier down
        return Assessment(Health.UNKNOWN, f"cannot assess: {type(exc).__name__}: {exc}", name)


def rule_name(rule: Rule) -> str:
    """A built-in rule's name as explain shows it: ``built-in deployment``, or ``generic``."""
    module = rule.__module__.rsplit(".", 1)[-1]
    return "generic" if module == "generic" else f"built-in {module}"


def _odd_shape(obj: object) -> str | None:
    """Why an object cannot be read at all, or None when its outline is sound."""
    if not isinstance(obj, Mapping):
        return f"the object is a {type(obj).__name__}, not a mapping"
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        return "the object has no kind"
    if not isinstance(obj.get("apiVersion", ""), str):
        return "apiVersion is not a string"
    for name in ("metadata", "spec", "status"):
        value = obj.get(name)
        if value is not None and not isinstance(value, Mapping):
            return f"{name} is a {type(value).__name__}, not an object"
    return None


def _pending_deletion(obj: Mapping[str, Any]) -> Assessment | None:
    """Progressing while `metadata.deletionTimestamp` is set, naming the finalizers that hold it."""
    meta = section(obj, "metadata")
    if not meta.get("deletionTimestamp"):
        return None
    finalizers = meta.get("finalizers")
    if isinstance(finalizers, list) and finalizers:
        held = ", ".join(str(f) for f in finalizers)
        return Assessment(
            Health.PROGRESSING, f"pending deletion; blocked by finalizers: {held}", "deletion"
        )
    return Assessment(Health.PROGRESSING, "pending deletion", "deletion")


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

__all__ = [
    "RULES",
    "Assessment",
    "BadShape",
    "CustomChecks",
    "Rule",
    "assess",
    "combine",
    "rule_for",
    "rule_name",
    "run",
]
