"""Field paths and managedFields: who owns which field of an object.

Server-side apply (`apply.py`) and every other write (`operations.py`) record field ownership
here. A path is a tuple of FieldsV1 elements: `f:<name>` for a map member, `k:<json>` for an
item of a keyed list, `v:<json>` for a member of a set-like list. Sets of paths are encoded
to and from the nested `fieldsV1` form that `metadata.managedFields` carries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubesim.resources import SET_LISTS, list_keys

Path = tuple[str, ...]
_PLAIN = re.compile(r"[A-Za-z0-9_.:/\-]*")
FieldSet = set[Path]

# Identity and server-maintained metadata are never owned by a manager.
_UNOWNED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
# Map-typed fields own themselves as well as their members (the `.` entry in FieldsV1).
_MAP_FIELDS = frozenset(
    {
        "labels",
        "annotations",
        "matchLabels",
        "nodeSelector",
        "data",
        "stringData",
        "binaryData",
        "limits",
        "requests",
        "selector",
    }
)
_LABEL_SELECTOR = frozenset({"matchLabels", "matchExpressions"})


def is_atomic_map(name: str, value: Any) -> bool:
    """Whether a map is owned as a whole: a LabelSelector is (structType=atomic)."""
    return (
        name == "selector"
        and isinstance(value, dict)
        and bool(value)
        and value.keys() <= _LABEL_SELECTOR
    )


class Operation(StrEnum):
    """How a manager last wrote its fields."""

    APPLY = "Apply"
    UPDATE = "Update"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def item_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    """The `k:` element naming one item of a keyed list."""
    if len(keys) == 1:
        value = item.get(keys[0])
        # Fast path for the usual `name` keys: plain strings need no JSON encoder.
        if isinstance(value, str) and _PLAIN.fullmatch(value):
            return f'k:{{"{keys[0]}":"{value}"}}'
    key: dict[str, Any] = {}
    for name in keys:
        if name in item:
            key[name] = item[name]
        elif name == "protocol":
            key[name] = "TCP"  # the API server defaults it, so identity includes it
    return "k:" + _dumps(key)


def paths_of(obj: dict[str, Any], *, with_status: bool = True) -> FieldSet:
    """Every owned path of an object (leaves and list items)."""
    out: FieldSet = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "status" and not with_status:
            continue
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _UNOWNED_METADATA}
            _walk(meta, ("f:metadata",), out)
            continue
        _walk_value(key, value, ("f:" + key,), out)
    return out


def _walk(obj: dict[str, Any], prefix: Path, out: FieldSet) -> None:
    for key, value in obj.items():
        _walk_value(key, value, (*prefix, "f:" + key), out)


def _walk_value(name: str, value: Any, path: Path, out: FieldSet) -> None:
    if is_atomic_map(name, value):
        out.add(path)
    elif isinstance(value, dict) and value:
        if name in _MAP_FIELDS:
            out.add(path)
        _walk(value, path, out)
    elif isinstance(value, list) and value:
        keys = list_keys(name, value)
        if keys is not None:
            for item in value:
                item_path = (*path, item_key(item, keys))
                out.add(item_path)
                _walk(item, item_path, out)
        elif name in SET_LISTS:
            out.add(path)  # the set itself, then its members
            out.update((*path, "v:" + _dumps(item)) for item in value)
        else:
            out.add(path)
    else:
        out.add(path)


_MISSING = object()


def value_at(obj: Any, path: Path) -> Any:
    """The value at a path, or `_MISSING`."""
    node = obj
    for element in path:
        kind, body = element[0], element[2:]
        if kind == "f":
            if not isinstance(node, dict) or body not in node:
                return _MISSING
            node = node[body]
        elif kind == "k":
            if not isinstance(node, list):
                return _MISSING
            wanted = json.loads(body)
            node = next((i for i in node if _matches(i, wanted)), _MISSING)
            if node is _MISSING:
                return _MISSING
        else:  # "v": set member
            member = json.loads(body)
            return member if isinstance(node, list) and member in node else _MISSING
    return node


def _matches(item: Any, wanted: dict[str, Any]) -> bool:
    if not isinstance(item, dict):
        return False
    for name, value in wanted.items():
        have = item.get(name, "TCP" if name == "protocol" else None)
        if have != value:
            return False
    return True


def has_value(obj: Any, path: Path) -> bool:
    """Whether an object has something at a path."""
    return value_at(obj, path) is not _MISSING


def remove_path(obj: dict[str, Any], path: Path) -> None:
    """Delete the field or list item at a path, in place (missing paths are ignored)."""
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    kind, body = last[0], last[2:]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(body, None)
    elif kind == "k" and isinstance(parent, list):
        wanted = json.loads(body)
        parent[:] = [i for i in parent if not _matches(i, wanted)]
    elif kind == "v" and isinstance(parent, list):
        member = json.loads(body)
        parent[:] = [i for i in parent if i != member]


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """Paths as the nested `fieldsV1` document."""
    owned = paths if isinstance(paths, set | frozenset) else set(paths)
    root: dict[str, Any] = {}
    # Sorted, a parent comes right before its children, so members are inserted in order
    # and an owned parent gets its "." member before its first child.
    for path in sorted(owned):
        node = root
        for depth, element in enumerate(path):
            child = node.get(element)
            if child is None:
                if not node and depth and path[:depth] in owned:
                    node["."] = {}
                child = node[element] = {}
            node = child
    return root


def decode(fields: dict[str, Any], prefix: Path = ()) -> FieldSet:
    """A `fieldsV1` document as paths."""
    out: FieldSet = set()
    for element, child in fields.items():
        if element == ".":
            out.add(prefix)
            continue
        path = (*prefix, element)
        if child:
            out |= decode(child, path)
        else:
            out.add(path)
    return out


@dataclass
class ManagerEntry:
    """One entry of metadata.managedFields."""

    manager: str
    operation: Operation
    api_version: str
    time: str
    fields: FieldSet = field(default_factory=set)
    subresource: str = ""
    # Entries are replaced, never mutated, once stored: the encoding is computed once.
    _json: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)
    _fields_v1: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def identity(self) -> tuple[str, Operation, str]:
        """Entries are unique per manager, operation and subresource."""
        return (self.manager, self.operation, self.subresource)

    def to_json(self) -> dict[str, Any]:
        """The entry as the API shows it."""
        if self._json is None:
            self._json = self._encode()
        return self._json

    def fields_v1(self) -> dict[str, Any]:
        """The owned fields in FieldsV1 form (computed once)."""
        if self._fields_v1 is None:
            self._fields_v1 = encode(self.fields)
        return self._fields_v1

    def successor(self, *, fields: FieldSet, time: str, api_version: str) -> ManagerEntry:
        """This entry after another write; keeps the encoding when the fields stay."""
        entry = ManagerEntry(
            self.manager, self.operation, api_version, time, fields, self.subresource
        )
        if fields == self.fields:
            entry._fields_v1 = self._fields_v1
        return entry

    def _encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": str(self.operation),
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields_v1(),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def entries_from_json(items: list[dict[str, Any]]) -> list[ManagerEntry]:
    """Entries from a client-supplied managedFields list (unknown shapes are skipped)."""
    out = []
    for item in items:
        try:
            out.append(
                ManagerEntry(
                    manager=item["manager"],
                    operation=Operation(item.get("operation", "Update")),
                    api_version=item.get("apiVersion", ""),
                    time=item.get("time", ""),
                    fields=decode(item.get("fieldsV1") or {}),
                    subresource=item.get("subresource", ""),
                )
            )
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
    return out


def owned_by_others(entries: list[ManagerEntry], me: tuple[str, Operation, str]) -> FieldSet:
    """Union of the paths that managers other than `me` own."""
    out: FieldSet = set()
    for entry in entries:
        if entry.identity != me:
            out |= entry.fields
    return out


def covered(path: Path, owned: FieldSet) -> bool:
    """Whether a path or anything below it is in `owned`."""
    if path in owned:
        return True
    n = len(path)
    return any(len(p) > n and p[:n] == path for p in owned)


def clone(value: Any) -> Any:
    """A deep copy of a JSON document, without null members; faster than `copy.deepcopy`.

    Nulls go because the API server decodes into typed objects, where null means unset
    (kubectl sends `creationTimestamp: null` inside pod templates, for one).
    """
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldSet, FieldSet]:
    """(paths new or changed in `new`, paths of `old` gone from `new`), in one walk.

    Equal subtrees are skipped with one C-level comparison, so a status write does not
    pay for walking the spec.
    """
    changed: FieldSet = set()
    removed: FieldSet = set()
    for key in old.keys() | new.keys():
        if key in ("apiVersion", "kind"):
            continue
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        if before is after or before == after:
            continue
        if key == "metadata":
            before = _owned_meta(before)
            after = _owned_meta(after)
            if before == after:
                continue  # only server-kept fields (resourceVersion, managedFields) moved
        _diff_value(key, before, after, ("f:" + key,), changed, removed)
    return changed, removed


def _owned_meta(meta: Any) -> Any:
    if not isinstance(meta, dict):
        return _MISSING
    return {k: v for k, v in meta.items() if k not in _UNOWNED_METADATA}


def _diff_value(
    name: str, before: Any, after: Any, path: Path, changed: FieldSet, removed: FieldSet
) -> None:
    if after is _MISSING:
        _walk_value(name, before, path, removed)
        return
    if before is _MISSING:
        _walk_value(name, after, path, changed)
        return
    atomic = is_atomic_map(name, before) or is_atomic_map(name, after)
    if not atomic and isinstance(after, dict) and after and isinstance(before, dict) and before:
        if name in _MAP_FIELDS:
            changed.add(path)
        for key in before.keys() | after.keys():
            b, a = before.get(key, _MISSING), after.get(key, _MISSING)
            if b is not a and b != a:
                _diff_value(key, b, a, (*path, "f:" + key), changed, removed)
        return
    if isinstance(after, list) and after and isinstance(before, list) and before:
        keys = list_keys(name, after)
        if keys is not None and list_keys(name, before) == keys:
            old_items = {item_key(i, keys): i for i in before}
            new_items = {item_key(i, keys): i for i in after}
            for ident in old_items.keys() | new_items.keys():
                b, a = old_items.get(ident, _MISSING), new_items.get(ident, _MISSING)
                if b is _MISSING or a is _MISSING:
                    target, item = (changed, a) if b is _MISSING else (removed, b)
                    target.add((*path, ident))
                    _walk(item, (*path, ident), target)
                elif b != a:
                    for key in b.keys() | a.keys():
                        bv, av = b.get(key, _MISSING), a.get(key, _MISSING)
                        if bv != av:
                            _diff_value(key, bv, av, (*path, ident, "f:" + key), changed, removed)
            return
        if name in SET_LISTS:
            changed.update((*path, "v:" + _dumps(v)) for v in after if v not in before)
            removed.update((*path, "v:" + _dumps(v)) for v in before if v not in after)
            return
    # The shape changed, or a scalar / atomic list changed: replace wholesale.
    old_paths: FieldSet = set()
    _walk_value(name, before, path, old_paths)
    new_paths: FieldSet = set()
    _walk_value(name, after, path, new_paths)
    removed.update(old_paths - new_paths)
    changed.update(new_paths)
