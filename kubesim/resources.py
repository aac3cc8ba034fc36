"""The resource registry: which group/version/resources a simulated cluster serves.

Discovery, routing and the store all ask this registry. It starts from a recorded discovery
dataset of a stock cluster (see `builtin_resources.json`) and grows when a
CustomResourceDefinition is created, shrinking again when the CRD is deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from typing import Any

# Fields of list items whose key makes the list a map (strategic merge / server-side apply).
# Taken from the patchMergeKey / listMapKeys markers of the built-in types.
LIST_MAP_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "conditions": ("type",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": ("name",),
    "secrets": ("name",),
    "ownerReferences": ("uid",),
}
# `ports` is keyed by containerPort in a container and by port in a Service.
PORT_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("containerPort", ("containerPort", "protocol")),
    ("port", ("port", "protocol")),
)
# Lists of scalars that merge as sets rather than being replaced whole.
SET_LISTS: frozenset[str] = frozenset({"finalizers"})


def list_keys(field_name: str, items: list[Any]) -> tuple[str, ...] | None:
    """The merge keys of a list field, or None when the list is atomic."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    if field_name == "ports":
        for marker, port_keys in PORT_KEYS:
            if all(marker in item for item in items):
                return port_keys
        return None
    keys = LIST_MAP_KEYS.get(field_name)
    if keys is None or not all(keys[0] in item for item in items):
        return None
    return keys


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource, e.g. apps/v1 deployments."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    custom: bool = False

    @property
    def api_version(self) -> str:
        """`apps/v1` or `v1`."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: all versions of a group/resource share one table."""
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        """Whether writes to the main resource ignore `.status` (a status subresource)."""
        return "status" in self.subresources

    def discovery_entry(self) -> dict[str, Any]:
        """This resource as an APIResource of an APIResourceList."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass
class Registry:
    """Served resources of one cluster, by group/version and by kind."""

    _by_gv: dict[tuple[str, str], dict[str, ResourceType]] = field(default_factory=dict)
    # Version order within a group matters: the first one is the preferred version.
    _versions: dict[str, list[str]] = field(default_factory=dict)
    generation: int = 0

    @classmethod
    def builtin(cls) -> Registry:
        """A registry holding the built-in resources of a stock cluster."""
        registry = cls()
        for doc in _builtin_documents():
            registry._add_document(doc)
        return registry

    def _add_document(self, doc: dict[str, Any]) -> None:
        group, _, version = doc["groupVersion"].rpartition("/")
        subresources: dict[str, set[str]] = {}
        for entry in doc["resources"]:
            parent, _, sub = entry["name"].partition("/")
            if sub:
                subresources.setdefault(parent, set()).add(sub)
        for entry in doc["resources"]:
            if "/" in entry["name"]:
                continue
            self.add(
                ResourceType(
                    group=group,
                    version=version,
                    plural=entry["name"],
                    kind=entry["kind"],
                    namespaced=bool(entry["namespaced"]),
                    singular=entry.get("singularName") or entry["kind"].lower(),
                    verbs=tuple(entry.get("verbs", ())),
                    short_names=tuple(entry.get("shortNames", ())),
                    categories=tuple(entry.get("categories", ())),
                    subresources=frozenset(subresources.get(entry["name"], ())),
                )
            )

    def add(self, rt: ResourceType) -> None:
        """Serve a resource (replacing one of the same group/version/plural)."""
        self._by_gv.setdefault((rt.group, rt.version), {})[rt.plural] = rt
        versions = self._versions.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
        self.generation += 1

    def remove(self, group: str, version: str, plural: str) -> None:
        """Stop serving a resource; drop the group/version when it becomes empty."""
        table = self._by_gv.get((group, version), {})
        table.pop(plural, None)
        if not table:
            self._by_gv.pop((group, version), None)
            versions = self._versions.get(group, [])
            if version in versions:
                versions.remove(version)
            if not versions:
                self._versions.pop(group, None)
        self.generation += 1

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The resource served at /apis/<group>/<version>/<plural>, if any."""
        table = self._by_gv.get((group, version))
        return table.get(plural) if table else None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """The resource of an object's apiVersion and kind, if served."""
        group, _, version = api_version.rpartition("/")
        for rt in self._by_gv.get((group, version), {}).values():
            if rt.kind == kind:
                return rt
        return None

    def by_table(self, table: tuple[str, str]) -> ResourceType | None:
        """The preferred-version resource of a storage table."""
        group, plural = table
        for version in self._versions.get(group, []):
            rt = self.lookup(group, version, plural)
            if rt is not None:
                return rt
        return None

    def groups(self) -> list[tuple[str, list[str]]]:
        """(group, versions) pairs, core group first, preferred version first."""
        return [(group, list(versions)) for group, versions in self._versions.items()]

    def resources(self, group: str, version: str) -> list[ResourceType]:
        """The resources of one group/version."""
        return list(self._by_gv.get((group, version), {}).values())

    def has_group_version(self, group: str, version: str) -> bool:
        """Whether /apis/<group>/<version> exists."""
        return (group, version) in self._by_gv

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """Serve the resources a CustomResourceDefinition declares."""
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        added = []
        for ver in spec.get("versions", []):
            if not ver.get("served", True):
                continue
            subs = set((ver.get("subresources") or {}).keys())
            rt = ResourceType(
                group=spec["group"],
                version=ver["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                verbs=_ALL_VERBS,
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                subresources=frozenset(subs),
                custom=True,
            )
            self.add(rt)
            added.append(rt)
        return added

    def unregister_crd(self, crd: dict[str, Any]) -> None:
        """Stop serving what a deleted CustomResourceDefinition declared."""
        spec = crd.get("spec", {})
        for ver in spec.get("versions", []):
            self.remove(spec["group"], ver["name"], spec["names"]["plural"])


def _builtin_documents() -> list[dict[str, Any]]:
    # Beside the modules, not in a data folder: package-data globs ("*.json") do not
    # reach into subfolders that are not packages.
    text = importlib_resources.files("kubesim").joinpath("builtin_resources.json").read_text()
    docs: list[dict[str, Any]] = json.loads(text)["groupVersions"]
    return docs
