"""The verbs of the API on one cluster: get, list, create, update, patch, apply, delete.

`handlers.py` parses HTTP into these calls; the simulated controllers call them too (as
the `kube-controller-manager` field manager) so their status writes look like a real
controller's. Every write goes through `_commit`, which sets server fields, bumps
generation and resourceVersion, records field ownership and honours dryRun.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from kubesim import errors
from kubesim.apply import last_applied, server_side_apply, track_update
from kubesim.defaults import apply_defaults, spec_of, tracks_generation
from kubesim.deletion import CRD_TABLE, NS_TABLE, Deletion
from kubesim.fieldsets import ManagerEntry, clone, entries_from_json
from kubesim.listing import ListOptions, list_objects
from kubesim.patches import PatchType, json_patch, merge_patch, strategic_merge
from kubesim.resources import Registry, ResourceType
from kubesim.store import EventType, Store, Stored
from kubesim.timestamps import now_iso
from kubesim.validation import check_types, validate

__all__ = ["ListOptions", "Operations", "WriteOptions", "now_iso"]


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Query parameters shared by the write verbs."""

    field_manager: str = ""
    dry_run: bool = False
    force: bool = False
    subresource: str = ""
    # Written by a simulated component (controller, kubelet): its bodies are well-formed,
    # so the type checks a client's body gets are skipped (they cost a walk per write).
    trusted: bool = False


def _unchanged(old: Stored, obj: dict[str, Any], entries: list[ManagerEntry]) -> bool:
    """Whether a write would store the same object with the same ownership."""
    if [(e.identity, e.fields) for e in entries] != [(e.identity, e.fields) for e in old.managers]:
        return False
    if obj.keys() != old.obj.keys():
        return False
    for key, value in obj.items():
        if key == "metadata":
            before = old.obj["metadata"]
            skip = ("resourceVersion", "managedFields")
            if {k for k in value if k not in skip} != {k for k in before if k not in skip}:
                return False
            if any(value[k] != before[k] for k in value if k not in skip):
                return False
        elif value != old.obj[key]:
            return False
    return True


def _sent_managers(old: Stored, obj: dict[str, Any]) -> list[ManagerEntry]:
    """The ownership a write starts from: the stored one, unless the client rewrote it.

    As in the API server, managedFields sent in a write replace the stored ones (kubectl
    does this when it moves fields from client-side to server-side apply), and `[{}]`
    clears them.
    """
    sent = obj["metadata"].get("managedFields")
    if sent is None or sent == old.obj["metadata"].get("managedFields"):
        return old.managers
    return entries_from_json([e for e in sent if isinstance(e, dict) and e])


class Operations(Deletion):
    """The verbs, bound to one cluster's store and registry."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    # ---- reads -------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        """One object, as the client's version sees it."""
        return self.view(rt, self._require(rt, namespace, name).obj)

    def view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """An object under the apiVersion of the request (all versions share storage)."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return dict(obj, apiVersion=rt.api_version)

    def list_objects(
        self, rt: ResourceType, namespace: str | None, opts: ListOptions
    ) -> dict[str, Any]:
        """A list document, with paging by `limit` and `continue`."""
        return list_objects(self.store, rt, namespace, opts, self.view)

    def _require(self, rt: ResourceType, namespace: str, name: str) -> Stored:
        stored = self.store.get(rt, namespace, name)
        if stored is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return stored

    def _require_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        stored = self.store.tables.get(NS_TABLE, {}).get(("", namespace))
        if stored is None:
            raise errors.not_found("", "namespaces", namespace)
        if stored.obj["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                errors.StatusReason.FORBIDDEN,
                f'{errors.qualified(rt.group, rt.plural)} "" is forbidden: unable to create '
                f"new content in namespace {namespace} because it is being terminated",
                details={
                    "kind": rt.plural,
                    "group": rt.group,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "field": "metadata.namespace",
                            "message": f"namespace {namespace} is being terminated",
                        }
                    ],
                },
            )

    # ---- writes ------------------------------------------------------------------------

    def create(
        self, rt: ResourceType, namespace: str, body: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        """POST: a new object; 409 AlreadyExists when the name is taken."""
        obj = self._checked_body(rt, namespace, body, name="", opts=opts)
        meta = obj["metadata"]
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise errors.invalid(
                    rt.kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                    rt.group,
                )
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        self._require_namespace(rt, namespace)
        if rt.has_status:
            obj.pop("status", None)  # status is the controllers' to write, via /status
        if self.store.get(rt, namespace, meta["name"]) is not None:
            raise errors.already_exists(rt.group, rt.plural, meta["name"])
        manager = opts.field_manager
        entries = track_update([], None, obj, manager=manager, subresource="", now=now_iso())
        return self._commit(rt, None, obj, entries, opts)

    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: dict[str, Any],
        opts: WriteOptions,
    ) -> dict[str, Any]:
        """PUT: the whole object; 409 Conflict when resourceVersion is stale."""
        obj = self._checked_body(rt, namespace, body, name=name, opts=opts)
        old = self.store.get(rt, namespace, name)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        wanted_rv = obj["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != old.obj["metadata"]["resourceVersion"]:
            raise errors.stale_version(rt.group, rt.plural, name)
        obj = self._scope_to_subresource(rt, old.obj, obj, opts.subresource)
        entries = track_update(
            _sent_managers(old, obj),
            old.obj,
            obj,
            manager=opts.field_manager,
            subresource=opts.subresource,
            now=now_iso(),
        )
        return self._commit(rt, old, obj, entries, opts)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: PatchType,
        body: Any,
        opts: WriteOptions,
    ) -> tuple[dict[str, Any], bool]:
        """PATCH in any of the four formats; returns the object and whether it was created."""
        old = self.store.get(rt, namespace, name)
        if patch_type.is_apply:
            return self._apply(rt, namespace, name, old, body, opts)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        # No copy first: the merges build new containers along what they change and share
        # the rest, and the JSON patch copies for itself; _commit copies what it stores.
        if patch_type is PatchType.JSON:
            patched = json_patch(old.obj, body)
        elif patch_type is PatchType.MERGE:
            patched = merge_patch(old.obj, body)
        else:
            patched = strategic_merge(old.obj, body)
        if not isinstance(patched, dict):
            raise errors.bad_request("patch did not produce an object")
        obj = self._checked_body(rt, namespace, patched, name=name, opts=opts)
        wanted_rv = obj["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != old.obj["metadata"]["resourceVersion"]:
            raise errors.stale_version(rt.group, rt.plural, name)
        obj = self._scope_to_subresource(rt, old.obj, obj, opts.subresource)
        entries = track_update(
            _sent_managers(old, obj),
            old.obj,
            obj,
            manager=opts.field_manager,
            subresource=opts.subresource,
            now=now_iso(),
        )
        return self._commit(rt, old, obj, entries, opts), False

    def _apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        old: Stored | None,
        body: Any,
        opts: WriteOptions,
    ) -> tuple[dict[str, Any], bool]:
        if not opts.field_manager:
            raise errors.ApiError(
                422,
                errors.StatusReason.INVALID,
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        if not isinstance(body, dict):
            raise errors.bad_request("apply patch must be an object")
        applied = self._checked_body(rt, namespace, body, name=name, opts=opts)
        wanted_rv = applied["metadata"].get("resourceVersion")
        if wanted_rv and (old is None or wanted_rv != old.obj["metadata"]["resourceVersion"]):
            # A resourceVersion in an applied configuration is a precondition.
            if old is None:
                raise errors.not_found(rt.group, rt.plural, name)
            raise errors.stale_version(rt.group, rt.plural, name)
        for key in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"):
            applied["metadata"].pop(key, None)
        if opts.subresource == "status":
            if old is None:
                raise errors.not_found(rt.group, rt.plural, name)
            # Through /status only status counts: nothing else is applied or owned.
            applied = {
                k: v for k, v in applied.items() if k in ("apiVersion", "kind", "status")
            } | {
                "metadata": {"name": name, "namespace": namespace}
                if rt.namespaced
                else {"name": name}
            }
        elif rt.has_status:
            applied.pop("status", None)
        if old is None:
            self._require_namespace(rt, namespace)
        merged, entries = server_side_apply(
            old.obj if old else None,
            old.managers if old else [],
            applied,
            manager=opts.field_manager,
            force=opts.force,
            now=now_iso(),
            subresource=opts.subresource,
            forgiven=last_applied(old.obj if old else None, opts.field_manager),
        )
        if old is not None:
            merged = self._scope_to_subresource(rt, old.obj, merged, opts.subresource)
        # server_side_apply returns a copy of its own (status may still be shared with the
        # stored version, but _commit never changes status in place).
        return self._commit(rt, old, merged, entries, opts, private=True), old is None

    def _checked_body(
        self,
        rt: ResourceType,
        namespace: str,
        body: dict[str, Any],
        *,
        name: str,
        opts: WriteOptions,
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be an object")
        if not opts.trusted:
            check_types(rt, body)
        obj = dict(body)
        meta = dict(obj.get("metadata") or {})
        obj["metadata"] = meta
        if obj.get("kind") not in (None, "", rt.kind):
            raise errors.bad_request(
                f"the kind {obj.get('kind')!r} of the object does not match the resource "
                f"{rt.plural!r} ({rt.kind})"
            )
        obj["kind"] = rt.kind
        obj["apiVersion"] = rt.api_version
        if name:
            if meta.get("name") not in (None, "", name):
                raise errors.bad_request(
                    "the name of the object "
                    f"({meta.get('name')}) does not match the name on the URL ({name})"
                )
            meta["name"] = name
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _scope_to_subresource(
        self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        """The status subresource changes only status; the main resource never does."""
        if not rt.has_status:
            return new
        if subresource == "status":
            out = dict(old)  # shallow: _commit clones before anything is changed
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            return out
        if "status" in old:
            return dict(new, status=old["status"])
        new.pop("status", None)
        return new

    def _commit(
        self,
        rt: ResourceType,
        old: Stored | None,
        obj: dict[str, Any],
        entries: list[ManagerEntry],
        opts: WriteOptions,
        *,
        private: bool = False,
    ) -> dict[str, Any]:
        """Store a write (`private`: `obj` is already a copy no one else holds)."""
        if opts.subresource != "status":
            validate(rt, obj, old.obj if old else None)
        if old is not None and opts.subresource == "status":
            # Only status changed: share the rest with the stored version (never mutated).
            obj = dict(obj, metadata=dict(old.obj["metadata"]))
            if "status" in obj:
                obj["status"] = clone(obj["status"])
        elif not private:
            obj = clone(obj)
        meta = obj["metadata"]
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            if tracks_generation(rt.key):
                meta["generation"] = 1
            apply_defaults(rt.key, obj, creating=True)
        else:
            old_meta = old.obj["metadata"]
            for key in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            if opts.subresource != "status":
                apply_defaults(rt.key, obj, creating=False)
            if tracks_generation(rt.key) and spec_of(obj) != spec_of(old.obj):
                meta["generation"] = int(old_meta.get("generation", 0)) + 1
            if _unchanged(old, obj, entries):
                # Like the API server: a write that changes nothing stores nothing, so no
                # new resourceVersion and no watch event (managedFields times stay too).
                return self.view(rt, old.obj)
        meta["managedFields"] = [e.to_json() for e in entries]
        if not meta["managedFields"]:
            del meta["managedFields"]
        if opts.dry_run:
            meta["resourceVersion"] = old.obj["metadata"]["resourceVersion"] if old else ""
            return self.view(rt, obj)
        meta["resourceVersion"] = str(self.store.next_rv())
        stored = Stored(obj, entries)
        if old is not None and meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.store.put(rt, stored, EventType.MODIFIED)
            self._remove(rt, stored)
            return self.view(rt, obj)
        self.store.put(rt, stored, EventType.MODIFIED if old else EventType.ADDED)
        if rt.key == CRD_TABLE:
            self.registry.register_crd(obj)
        return self.view(rt, obj)
