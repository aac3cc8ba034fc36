"""Defaulting and server-set fields, applied by `operations.py` before an object is stored.

Only the defaults that clients notice are filled in (replicas, strategies, a Service's
clusterIP, a Namespace's phase, a CRD's Established condition); the rest of the API
server's defaulting is left out on purpose, to keep objects readable in tests.
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import Any

_GENERATION_LESS = frozenset(
    {
        ("", "configmaps"),
        ("", "secrets"),
        ("", "serviceaccounts"),
        ("", "namespaces"),
        ("", "services"),
        ("", "endpoints"),
        ("", "events"),
    }
)

_cluster_ips = (str(ipaddress.IPv4Address("10.96.0.10") + i) for i in itertools.count())


def tracks_generation(table: tuple[str, str]) -> bool:
    """Whether objects of this resource carry metadata.generation."""
    return table not in _GENERATION_LESS


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything that bumps the generation when it changes: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _pod_template(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    pod = template.setdefault("spec", {})
    if isinstance(pod, dict):
        pod.setdefault("restartPolicy", "Always" if "backoffLimit" not in spec else "Never")
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("terminationGracePeriodSeconds", 30)
        for container in pod.get("containers") or []:
            if isinstance(container, dict):
                for port in container.get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")


def apply_defaults(table: tuple[str, str], obj: dict[str, Any], *, creating: bool) -> None:
    """Fill in server defaults, in place."""
    group, plural = table
    spec = obj.get("spec")
    if group == "apps" and isinstance(spec, dict):
        if plural in ("deployments", "statefulsets", "replicasets"):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
        if plural == "deployments":
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {})
            if isinstance(strategy, dict):
                strategy.setdefault("type", "RollingUpdate")
                if strategy["type"] == "RollingUpdate":
                    rolling = strategy.setdefault("rollingUpdate", {})
                    if isinstance(rolling, dict):
                        rolling.setdefault("maxSurge", "25%")
                        rolling.setdefault("maxUnavailable", "25%")
        if plural == "statefulsets":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
        if plural == "daemonsets":
            spec.setdefault(
                "updateStrategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            )
        _pod_template(spec)
    elif table == ("batch", "jobs") and isinstance(spec, dict):
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        _pod_template(spec)
    elif table == ("", "services") and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if creating and spec.get("clusterIP") in (None, ""):
            spec["clusterIP"] = next(_cluster_ips)
            spec["clusterIPs"] = [spec["clusterIP"]]
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    elif table == ("", "secrets"):
        obj.setdefault("type", "Opaque")
    elif table == ("", "namespaces"):
        ns_spec = obj.setdefault("spec", {})
        if isinstance(ns_spec, dict):
            ns_spec.setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {"phase": "Active"})
        labels = obj["metadata"].setdefault("labels", {})
        labels.setdefault("kubernetes.io/metadata.name", obj["metadata"]["name"])
    elif table == ("apiextensions.k8s.io", "customresourcedefinitions"):
        obj["status"] = crd_status(obj)


def crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    """A CRD's status once its names are accepted and it is established (immediately here)."""
    names = crd.get("spec", {}).get("names", {})
    conditions = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "reason": "NoConflicts",
            "message": "no conflicts found",
            "lastTransitionTime": crd["metadata"].get("creationTimestamp", ""),
        },
        {
            "type": "Established",
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
            "lastTransitionTime": crd["metadata"].get("creationTimestamp", ""),
        },
    ]
    versions = [v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("storage")]
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": versions}
