"""What baton owns in a cluster and how a live object differs from what baton applied. Pure.

Where it sits: the appliers' decide phase. Every object baton applies carries the labels
``app.kubernetes.io/managed-by: baton``, ``baton.dev/app`` and ``baton.dev/environment``
and the annotation ``baton.dev/release``; only objects with all three labels matching a
target are ever pruned for it. :func:`drift_of` compares the fields baton set with the
live object (fields the server or controllers added are not drift).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
APP_LABEL = "baton.dev/app"
ENVIRONMENT_LABEL = "baton.dev/environment"
RELEASE_ANNOTATION = "baton.dev/release"
OWNED_SELECTOR = f"{MANAGED_BY}=baton"
# never pruned: deleting them takes everything inside (or every custom resource) along
NEVER_PRUNED = frozenset({"Namespace", "CustomResourceDefinition"})
_MAX_FIELDS = 8

Identity = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectRef:
    """Which object: enough to get or delete it, and to name it in events."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def identity(self) -> Identity:
        """(group, kind, namespace, name), as RenderedObject.identity."""
        group = self.api_version.split("/")[0] if "/" in self.api_version else ""
        return (group, self.kind, self.namespace, self.name)

    def describe(self) -> str:
        """``Deployment shop-dev/web``."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    def to_json(self) -> dict[str, str]:
        """As recorded in SyncSucceeded's objects."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectRef:
        """Back from an event's object entry."""
        return cls(
            api_version=str(data["apiVersion"]),
            kind=str(data["kind"]),
            namespace=str(data.get("namespace") or ""),
            name=str(data["name"]),
        )


def ref_of(obj: Mapping[str, Any]) -> ObjectRef:
    """The reference of a Kubernetes object body."""
    meta = obj.get("metadata") or {}
    return ObjectRef(
        api_version=str(obj.get("apiVersion", "")),
        kind=str(obj.get("kind", "")),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name", "")),
    )


def owned_body(
    body: Mapping[str, Any], *, app: str, environment: str, release: str
) -> dict[str, Any]:
    """The object as baton applies it: labelled and annotated as baton's."""
    out = copy.deepcopy(dict(body))
    meta = out.setdefault("metadata", {})
    meta["labels"] = {
        **(meta.get("labels") or {}),
        MANAGED_BY: "baton",
        APP_LABEL: app,
        ENVIRONMENT_LABEL: environment,
    }
    meta["annotations"] = {**(meta.get("annotations") or {}), RELEASE_ANNOTATION: release}
    return out


def namespace_body(name: str) -> dict[str, Any]:
    """The environment's namespace, created when the release does not declare it."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {MANAGED_BY: "baton"}},
    }


def owned_bodies(
    bodies: Iterable[Mapping[str, Any]], *, app: str, environment: str, release: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A release's objects as baton applies them, and the namespaces they use that the
    release does not declare (the sync creates those first)."""
    owned = [owned_body(b, app=app, environment=environment, release=release) for b in bodies]
    declared = {(b["kind"], b["metadata"]["name"]) for b in owned}
    used = {b["metadata"].get("namespace") for b in owned} - {None, ""}
    missing = [namespace_body(ns) for ns in sorted(used) if ("Namespace", ns) not in declared]
    return owned, missing


def is_owned(live: Mapping[str, Any], *, app: str, environment: str) -> bool:
    """True when the live object carries baton's labels for this very target."""
    labels = (live.get("metadata") or {}).get("labels") or {}
    return (
        labels.get(MANAGED_BY) == "baton"
        and labels.get(APP_LABEL) == app
        and labels.get(ENVIRONMENT_LABEL) == environment
    )


def owner_of(live: Mapping[str, Any]) -> tuple[str, str] | None:
    """(app, environment) of an object baton owns, else None."""
    labels = (live.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY) != "baton" or APP_LABEL not in labels:
        return None
    return str(labels[APP_LABEL]), str(labels.get(ENVIRONMENT_LABEL, ""))


def drift_of(applied: Mapping[str, Any], live: Mapping[str, Any] | None) -> list[str]:
    """The fields baton applied that the live object does not have as applied.

    Each entry reads ``spec.replicas: 2 → 5``; an object that is gone is ``deleted``.
    At most a handful of fields are listed, then ``… and N more``.
    """
    if live is None:
        return ["deleted"]
    found: list[str] = []
    for key, value in applied.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        _compare(value, live.get(key), key, found)
    if len(found) > _MAX_FIELDS:
        return [*found[:_MAX_FIELDS], f"… and {len(found) - _MAX_FIELDS} more"]
    return found


def _compare(want: Any, have: Any, path: str, found: list[str]) -> None:
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            found.append(f"{path}: {_show(want)} → {_show(have)}")
            return
        for key, value in want.items():
            _compare(value, have.get(key), f"{path}.{key}", found)
        return
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            count = len(have) if isinstance(have, list) else _show(have)
            found.append(f"{path}: {len(want)} items → {count}")
            return
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            _compare(w, h, f"{path}[{i}]", found)
        return
    if want != have and not _same_scalar(want, have):
        found.append(f"{path}: {_show(want)} → {_show(have)}")


def _same_scalar(want: Any, have: Any) -> bool:
    """'80' and 80 are one value to the API server (int-or-string fields)."""
    return want is not None and have is not None and str(want) == str(have)


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "…"
