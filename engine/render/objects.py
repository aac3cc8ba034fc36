"""Rendered objects, their apply order and the digest of a rendering.

Where it sits: the last step of rendering (``engine.render.pipeline``). Pure: sorting,
namespace defaulting and hashing only, so the applier and the watcher agree on the digest
of the same manifests whatever order the files were read in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Namespaces and CRDs first (everything else may live in them or be one of their
# kinds), then roughly the order Helm installs in; unknown kinds (custom resources) last.
APPLY_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
_RANK = {kind: i for i, kind in enumerate(APPLY_ORDER)}

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "PriorityClass",
        "PodSecurityPolicy",
        "StorageClass",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "IngressClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "RuntimeClass",
        "CSIDriver",
        "Node",
    }
)


class RenderError(Exception):
    """The manifests cannot be rendered; names the file, the line (0 if unknown), why."""

    def __init__(self, *, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}" if line else f"{file}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedObject:
    """One Kubernetes object of a rendering and where it came from (``file:line``)."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    body: Mapping[str, Any]
    source: str

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """(group, kind, namespace, name): what makes two objects the same object."""
        group = self.api_version.split("/")[0] if "/" in self.api_version else ""
        return (group, self.kind, self.namespace or "", self.name)

    def describe(self) -> str:
        """``Deployment shop-dev/web`` for messages."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True, slots=True)
class Rendered:
    """The objects of one release for one environment, in apply order, and their digest."""

    objects: tuple[RenderedObject, ...]
    digest: str


def finish(objects: Iterable[RenderedObject]) -> Rendered:
    """Order for applying and compute the digest."""
    done = sorted(objects, key=lambda o: (_RANK.get(o.kind, len(_RANK)), o.identity))
    canonical = json.dumps(
        [o.body for o in done], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    digest = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return Rendered(objects=tuple(done), digest=digest)


def default_namespaces(
    objects: list[RenderedObject], *, namespace: str | None, crds: Iterable[RenderedObject]
) -> list[RenderedObject]:
    """Give namespaced objects without one the environment's namespace.

    Done before overlays replace base objects and before duplicates are looked for, so
    ``web`` and ``shop-dev/web`` count as the same object. ``crds`` tell the scope of
    custom resources.
    """
    scopes = _crd_scopes(list(crds))
    return [_with_namespace(o, namespace=namespace, scopes=scopes) for o in objects]


def _crd_scopes(objects: list[RenderedObject]) -> dict[str, bool]:
    """Kind → cluster-scoped?, for custom resources whose CRD is in the same rendering."""
    scopes: dict[str, bool] = {}
    for o in objects:
        if o.kind == "CustomResourceDefinition":
            spec = o.body.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if isinstance(kind, str):
                scopes[kind] = spec.get("scope") == "Cluster"
    return scopes


def _with_namespace(
    obj: RenderedObject, *, namespace: str | None, scopes: dict[str, bool]
) -> RenderedObject:
    """Namespaced objects without a namespace get the environment's one."""
    cluster_scoped = scopes.get(obj.kind, obj.kind in CLUSTER_SCOPED)
    if cluster_scoped or obj.namespace or namespace is None:
        return obj
    body = dict(obj.body)
    body["metadata"] = {**body["metadata"], "namespace": namespace}
    return RenderedObject(
        api_version=obj.api_version,
        kind=obj.kind,
        namespace=namespace,
        name=obj.name,
        body=body,
        source=obj.source,
    )


def merge_layers(base: list[RenderedObject], overlay: list[RenderedObject]) -> list[RenderedObject]:
    """Overlay objects replace base objects of the same identity; the rest are added."""
    replaced = {o.identity for o in overlay}
    return [o for o in base if o.identity not in replaced] + overlay


def check_unique(objects: list[RenderedObject]) -> None:
    """Raise RenderError at the second definition of any object."""
    seen: dict[tuple[str, str, str, str], RenderedObject] = {}
    for obj in objects:
        first = seen.setdefault(obj.identity, obj)
        if first is not obj:
            file, _, line = obj.source.rpartition(":")
            raise RenderError(
                file=file,
                line=int(line) if line.isdigit() else 0,
                reason=f"duplicate object {obj.describe()} (first defined at {first.source})",
            )
