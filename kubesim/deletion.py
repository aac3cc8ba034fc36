"""Deletion: finalizers, namespace termination, CRD removal, garbage collection.

A mixin of `operations.Operations`, kept apart for size: everything that makes objects go.
A namespace turns Terminating and is emptied by the namespace controller (see
`controllers/manager.py` calling `finish_namespace`); an object with finalizers gets a
deletionTimestamp and stays until they are gone; dependents follow their owners.
"""

from __future__ import annotations

from typing import Any

from kubesim import errors
from kubesim.fieldsets import clone
from kubesim.resources import Registry, ResourceType
from kubesim.store import EventType, Store, Stored
from kubesim.timestamps import now_iso

CRD_TABLE = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_TABLE = ("", "namespaces")


class Deletion:
    """The delete verb and what follows from it."""

    store: Store
    registry: Registry

    def view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """An object under the apiVersion of the request (defined by Operations)."""
        raise NotImplementedError

    def _require(self, rt: ResourceType, namespace: str, name: str) -> Stored:
        raise NotImplementedError

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        dry_run: bool = False,
        preconditions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """DELETE: gone at once, or marked with deletionTimestamp while finalizers remain."""
        stored = self._require(rt, namespace, name)
        meta = stored.obj["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise errors.ApiError(
                409,
                errors.StatusReason.CONFLICT,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {meta['uid']}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise errors.stale_version(rt.group, rt.plural, name)
        if dry_run:
            return self.view(rt, stored.obj)
        if rt.key == NS_TABLE:
            return self._terminate_namespace(rt, stored)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return self.view(rt, stored.obj)
            obj = clone(stored.obj)
            obj["metadata"]["deletionTimestamp"] = now_iso()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
            self.store.put(rt, Stored(obj, stored.managers), EventType.MODIFIED)
            return self.view(rt, obj)
        self._remove(rt, stored)
        return self.view(rt, stored.obj)

    def _terminate_namespace(self, rt: ResourceType, stored: Stored) -> dict[str, Any]:
        """A deleted namespace turns Terminating; `finish_namespace` empties and removes it."""
        if stored.obj["metadata"].get("deletionTimestamp"):
            return self.view(rt, stored.obj)
        obj = clone(stored.obj)
        obj["metadata"]["deletionTimestamp"] = now_iso()
        obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
        obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
        self.store.put(rt, Stored(obj, stored.managers), EventType.MODIFIED)
        return self.view(rt, obj)

    def finish_namespace(self, name: str) -> None:
        """The namespace controller's part: delete the contents, then the namespace."""
        rt = self.registry.by_table(NS_TABLE)
        stored = self.store.tables.get(NS_TABLE, {}).get(("", name))
        if rt is None or stored is None or not stored.obj["metadata"].get("deletionTimestamp"):
            return
        self._empty_namespace(name)
        if not stored.obj["metadata"].get("finalizers"):
            self._remove(rt, stored)

    def _remove(self, rt: ResourceType, stored: Stored) -> None:
        self.store.delete(rt, stored)
        if rt.key == CRD_TABLE:
            self._drop_custom_resources(stored.obj)
        self._collect_garbage(stored.obj["metadata"]["uid"])

    def _empty_namespace(self, namespace: str) -> None:
        for group, version in [(g, vs[0]) for g, vs in self.registry.groups()]:
            for rt in self.registry.resources(group, version):
                if rt.namespaced:
                    for stored in list(self.store.items(rt, namespace)):
                        self._remove(rt, stored)

    def _drop_custom_resources(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec", {})
        table = (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        versions = spec.get("versions") or [{"name": "v1"}]
        rt = self.registry.lookup(table[0], versions[0]["name"], table[1])
        if rt is not None:
            for stored in list(self.store.items(rt, None)):
                self.store.delete(rt, stored)
        self.registry.unregister_crd(crd)

    def _collect_garbage(self, owner_uid: str) -> None:
        """Background cascading deletion: dependents go when their owner goes."""
        for table, stored in self.store.dependents_of(owner_uid):
            rt = self.registry.by_table(table)
            if rt is not None:
                self._remove(rt, stored)
