"""Patch formats of PATCH requests: JSON merge, JSON (RFC 6902) and strategic merge.

`operations.py` picks one by Content-Type and applies it to a copy of the live object.
Server-side apply is not here: it needs field ownership and lives in `apply.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from kubesim.errors import ApiError, StatusReason, bad_request
from kubesim.fieldsets import clone
from kubesim.resources import SET_LISTS, list_keys


class PatchType(StrEnum):
    """The Content-Type values of PATCH."""

    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY_YAML = "application/apply-patch+yaml"
    APPLY_CBOR = "application/apply-patch+cbor"

    @property
    def is_apply(self) -> bool:
        """Whether this is server-side apply."""
        return self in (PatchType.APPLY_YAML, PatchType.APPLY_CBOR)

    @classmethod
    def from_header(cls, content_type: str) -> PatchType:
        """Parse a Content-Type header, rejecting unknown patch types with 415."""
        mime = content_type.split(";", 1)[0].strip().lower()
        try:
            return cls(mime)
        except ValueError:
            raise ApiError(
                415,
                StatusReason.UNSUPPORTED_MEDIA_TYPE,
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(p.value for p in cls)}",
            ) from None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return clone(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; a failed `test` or a bad path is a 422 like the real server."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    doc = clone(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        doc = _json_patch_one(doc, op)
    return doc


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable(f"invalid path {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, StatusReason.INVALID, message)


def _resolve(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _unprocessable(f"doc is missing path: /{'/'.join(parts)}")
    return node


def _json_patch_one(doc: Any, op: dict[str, Any]) -> Any:
    name = op["op"]
    parts = _pointer(op["path"])
    if name == "test":
        if _resolve(doc, parts) != op.get("value"):
            raise _unprocessable(f"testing value {op['path']} failed")
        return doc
    if name in ("move", "copy"):
        value = clone(_resolve(doc, _pointer(op["from"])))
        if name == "move":
            doc = _remove(doc, _pointer(op["from"]))
        return _add(doc, parts, value)
    if name == "add":
        return _add(doc, parts, clone(op.get("value")))
    if name == "remove":
        return _remove(doc, parts)
    if name == "replace":
        _resolve(doc, parts)
        return _add(_remove(doc, parts), parts, clone(op.get("value")), replace=True)
    raise bad_request(f"unknown json patch operation {name!r}")


def _add(doc: Any, parts: list[str], value: Any, *, replace: bool = False) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if not 0 <= index <= len(parent):
            raise _unprocessable(f"invalid index {last!r}")
        parent.insert(index, value)
    else:
        raise _unprocessable(f"cannot add to /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return None
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise _unprocessable(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def strategic_merge(target: Any, patch: Any, field_name: str = "") -> Any:
    """Strategic merge patch for the common keyed lists (containers, ports, env, ...)."""
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if not k.startswith("$")}
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # directives ($setElementOrder, $retainKeys, ...) steer, never store
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            out[key] = _merge_list(out.get(key), value, key)
        elif isinstance(value, dict):
            out[key] = strategic_merge(out.get(key), value, key)
        else:
            out[key] = value
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(live: Any, patch: list[Any], field_name: str) -> list[Any]:
    live_items = live if isinstance(live, list) else []
    if field_name in SET_LISTS:
        return live_items + [v for v in patch if v not in live_items]
    keys = list_keys(field_name, [p for p in patch if isinstance(p, dict)] or live_items)
    if keys is None or not all(isinstance(p, dict) for p in patch):
        return [p for p in clone(patch) if not (isinstance(p, dict) and "$patch" in p)]
    if any(p.get("$patch") == "replace" for p in patch):
        return [clone(p) for p in patch if "$patch" not in p]
    # Strategic merge keys ports by number alone (patchMergeKey), unlike server-side
    # apply, which keys them by number and protocol.
    keys = keys[:1]
    out = list(live_items)
    for item in patch:
        ident = tuple(item.get(k) for k in keys)
        index = next(
            (i for i, cur in enumerate(out) if tuple(cur.get(k) for k in keys) == ident), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append(strategic_merge({}, item, field_name))
        else:
            out[index] = strategic_merge(out[index], item, field_name)
    return out
