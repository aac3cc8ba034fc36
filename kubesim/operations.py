"""The verbs of the API on one cluster: get, list, create, update, patch, apply, delete.

`handlers.py` parses HTTP into these calls; the simulated controllers call them too (as
the `kube-controller-manager` field manager) so their status writes look like a real
controller's. Every write goes through `_commit`, which sets server fields, bumps
generation and resourceVersion, records field ownership and honours dryRun.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubesim import errors
from kubesim.apply import server_side_apply, track_update
from kubesim.defaults import apply_defaults, spec_of, tracks_generation
from kubesim.fieldsets import ManagerEntry, clone
from kubesim.patches import PatchType, json_patch, merge_patch, strategic_merge
from kubesim.resources import Registry, ResourceType
from kubesim.selectors import Selector
from kubesim.store import EventType, Store, Stored

CRD_TABLE = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_TABLE = ("", "namespaces")


def now_iso() -> str:
    """A timestamp as the API prints it (seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Query parameters shared by the write verbs."""

    field_manager: str = ""
    dry_run: bool = False
    force: bool = False
    subresource: str = ""


@dataclass(frozen=True, slots=True)
class ListOptions:
    """Query parameters of list."""

    selector: Selector = field(default_factory=Selector)
    limit: int = 0
    continue_token: str = ""


def _unchanged(old: Stored, obj: dict[str, Any], entries: list[ManagerEntry]) -> bool:
    """Whether a write would store the same object with the same ownership."""
    if [(e.identity, e.fields) for e in entries] != [
            (e.identity, e.fields) for e in old.managers]:
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


class Operations:
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
        start: tuple[str, str] | None = None
        if opts.continue_token:
            start = self._decode_continue(opts.continue_token)
        items: list[dict[str, Any]] = []
        remaining = 0
        last_key: tuple[str, str] | None = None
        for stored in self.store.items(rt, namespace):
            meta = stored.obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if start is not None and key <= start:
                continue
            if not opts.selector.empty and not opts.selector.matches(stored.obj):
                continue
            if opts.limit and len(items) >= opts.limit:
                remaining += 1
                continue
            items.append(self.view(rt, stored.obj))
            last_key = key
        metadata: dict[str, Any] = {"resourceVersion": str(self.store.rv)}
        if remaining and last_key is not None:
            token = json.dumps({"rv": self.store.rv, "start": list(last_key)})
            metadata["continue"] = base64.urlsafe_b64encode(token.encode()).decode()
            metadata["remainingItemCount"] = remaining
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": metadata,
                "items": items}

    def _decode_continue(self, token: str) -> tuple[str, str]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            rv, start = int(data["rv"]), data["start"]
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.bad_request(f"invalid continue token: {exc}") from None
        if rv < self.store.compacted:
            raise errors.expired(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."
            )
        return (str(start[0]), str(start[1]))

    def _require(self, rt: ResourceType, namespace: str, name: str) -> Stored:
        stored = self.store.get(rt, namespace, name)
        if stored is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return stored

    def _require_namespace(self, rt: ResourceType, namespace: str) -> None:
        if rt.namespaced and (NS_TABLE not in self.store.tables
                              or ("", namespace) not in self.store.tables[NS_TABLE]):
            raise errors.not_found("", "namespaces", namespace)

    # ---- writes ------------------------------------------------------------------------

    def create(
        self, rt: ResourceType, namespace: str, body: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        """POST: a new object; 409 AlreadyExists when the name is taken."""
        obj = self._checked_body(rt, namespace, body, name="")
        meta = obj["metadata"]
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise errors.invalid(rt.kind, "", "metadata.name",
                                     "Required value: name or generateName is required",
                                     rt.group)
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
        self, rt: ResourceType, namespace: str, name: str, body: dict[str, Any],
        opts: WriteOptions,
    ) -> dict[str, Any]:
        """PUT: the whole object; 409 Conflict when resourceVersion is stale."""
        obj = self._checked_body(rt, namespace, body, name=name)
        old = self.store.get(rt, namespace, name)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        wanted_rv = obj["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != old.obj["metadata"]["resourceVersion"]:
            raise errors.stale_version(rt.group, rt.plural, name)
        obj = self._scope_to_subresource(rt, old.obj, obj, opts.subresource)
        entries = track_update(old.managers, old.obj, obj, manager=opts.field_manager,
                               subresource=opts.subresource, now=now_iso())
        return self._commit(rt, old, obj, entries, opts)

    def patch(
        self, rt: ResourceType, namespace: str, name: str, patch_type: PatchType,
        body: Any, opts: WriteOptions,
    ) -> tuple[dict[str, Any], bool]:
        """PATCH in any of the four formats; returns the object and whether it was created."""
        old = self.store.get(rt, namespace, name)
        if patch_type.is_apply:
            return self._apply(rt, namespace, name, old, body, opts)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        current = clone(old.obj)
        if patch_type is PatchType.JSON:
            patched = json_patch(current, body)
        elif patch_type is PatchType.MERGE:
            patched = merge_patch(current, body)
        else:
            patched = strategic_merge(current, body)
        if not isinstance(patched, dict):
            raise errors.bad_request("patch did not produce an object")
        obj = self._checked_body(rt, namespace, patched, name=name)
        wanted_rv = obj["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != old.obj["metadata"]["resourceVersion"]:
            raise errors.stale_version(rt.group, rt.plural, name)
        obj = self._scope_to_subresource(rt, old.obj, obj, opts.subresource)
        entries = track_update(old.managers, old.obj, obj, manager=opts.field_manager,
                               subresource=opts.subresource, now=now_iso())
        return self._commit(rt, old, obj, entries, opts), False

    def _apply(
        self, rt: ResourceType, namespace: str, name: str, old: Stored | None,
        body: Any, opts: WriteOptions,
    ) -> tuple[dict[str, Any], bool]:
        if not opts.field_manager:
            raise errors.ApiError(
                422, errors.StatusReason.INVALID,
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        if not isinstance(body, dict):
            raise errors.bad_request("apply patch must be an object")
        applied = self._checked_body(rt, namespace, body, name=name)
        wanted_rv = applied["metadata"].get("resourceVersion")
        if wanted_rv and (old is None or wanted_rv != old.obj["metadata"]["resourceVersion"]):
            # A resourceVersion in an applied configuration is a precondition.
            if old is None:
                raise errors.not_found(rt.group, rt.plural, name)
            raise errors.stale_version(rt.group, rt.plural, name)
        for key in ("uid", "resourceVersion", "creationTimestamp", "managedFields",
                    "generation"):
            applied["metadata"].pop(key, None)
        if rt.has_status and opts.subresource != "status":
            applied.pop("status", None)
        if old is None:
            self._require_namespace(rt, namespace)
        merged, entries = server_side_apply(
            old.obj if old else None, old.managers if old else [], applied,
            manager=opts.field_manager, force=opts.force, now=now_iso(),
        )
        if old is not None:
            merged = self._scope_to_subresource(rt, old.obj, merged, opts.subresource)
        return self._commit(rt, old, merged, entries, opts), old is None

    def _checked_body(
        self, rt: ResourceType, namespace: str, body: dict[str, Any], *, name: str
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be an object")
        obj = dict(body)
        meta = dict(obj.get("metadata") or {})
        obj["metadata"] = meta
        if obj.get("kind") not in (None, "", rt.kind):
            raise errors.bad_request(
                f"the kind {obj.get('kind')!r} of the object does not match the resource "
                f"{rt.plural!r} ({rt.kind})")
        obj["kind"] = rt.kind
        obj["apiVersion"] = rt.api_version
        if name:
            if meta.get("name") not in (None, "", name):
                raise errors.bad_request(
                    "the name of the object "
                    f"({meta.get('name')}) does not match the name on the URL ({name})")
            meta["name"] = name
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request")
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
        self, rt: ResourceType, old: Stored | None, obj: dict[str, Any],
        entries: list[ManagerEntry], opts: WriteOptions,
    ) -> dict[str, Any]:
        if old is not None and opts.subresource == "status":
            # Only status changed: share the rest with the stored version (never mutated).
            obj = dict(obj, metadata=dict(old.obj["metadata"]))
            if "status" in obj:
                obj["status"] = clone(obj["status"])
        else:
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
            for key in ("uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation"):
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

    # ---- delete ------------------------------------------------------------------------

    def delete(
        self, rt: ResourceType, namespace: str, name: str, *, dry_run: bool = False,
        preconditions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """DELETE: gone at once, or marked with deletionTimestamp while finalizers remain."""
        stored = self._require(rt, namespace, name)
        meta = stored.obj["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise errors.ApiError(409, errors.StatusReason.CONFLICT,
                                  f"Precondition failed: UID in precondition: {pre['uid']}, "
                                  f"UID in object meta: {meta['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise errors.stale_version(rt.group, rt.plural, name)
        if dry_run:
            return self.view(rt, stored.obj)
        finalizers = list(meta.get("finalizers") or [])
        if rt.key == NS_TABLE:
            self._empty_namespace(name)
        if finalizers:
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
