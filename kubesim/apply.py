"""Server-side apply: merge an applied configuration and settle field ownership.

Called by `operations.py` for `application/apply-patch+yaml` PATCHes. It follows the rules
of the API server's structured-merge-diff without a schema: keyed lists come from
`resources.LIST_MAP_KEYS`, every other list is atomic. A field another manager owns with a
different value is a conflict unless `force`; fields the applier stopped sending are removed
unless someone else still owns them.
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any

from kubesim.errors import ApiError, StatusReason
from kubesim.fieldsets import (
    FieldSet,
    ManagerEntry,
    Operation,
    Path,
    clone,
    covered,
    diff,
    is_atomic_map,
    owned_by_others,
    paths_of,
    remove_path,
    value_at,
)
from kubesim.resources import SET_LISTS, list_keys


def render_path(path: Path) -> str:
    """`.spec.template.spec.containers[name="web"].image`: how conflicts name a field."""
    out = []
    for element in path:
        kind, body = element[0], element[2:]
        if kind == "f":
            out.append("." + body)
        elif kind == "k":
            key = json.loads(body)
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
        else:
            out.append(f"[{body}]")
    return "".join(out)


def _is_leaf(applied: dict[str, Any], path: Path) -> bool:
    """Whether a path holds a value two managers can disagree on (not a container)."""
    last = path[-1]
    if last.startswith("k:"):
        return False
    name = last[2:]
    if last.startswith("f:") and name in SET_LISTS:
        return False  # a set: its members are owned one by one
    value = value_at(applied, path)
    return is_atomic_map(name, value) or not (isinstance(value, dict) and value)


def merge_applied(live: Any, applied: Any, field_name: str = "") -> Any:
    """The live object with the applied configuration merged in."""
    if (
        isinstance(live, dict)
        and isinstance(applied, dict)
        and not is_atomic_map(field_name, applied)
    ):
        out = dict(live)
        for key, value in applied.items():
            out[key] = merge_applied(live[key], value, key) if key in live else value
        return out
    if isinstance(live, list) and isinstance(applied, list):
        if field_name in SET_LISTS:
            return live + [v for v in applied if v not in live]
        # An empty applied list of a keyed field owns no items; it does not wipe others'.
        keys = list_keys(field_name, applied or live)
        if keys is not None and (not live or list_keys(field_name, live) == keys):
            out_list = list(live)
            for item in applied:
                ident = _ident(item, keys)
                index = next(
                    (i for i, cur in enumerate(out_list) if _ident(cur, keys) == ident), None
                )
                if index is None:
                    out_list.append(item)
                else:
                    out_list[index] = merge_applied(out_list[index], item, field_name)
            return out_list
    return applied


def _ident(item: dict[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(item.get(k, "TCP" if k == "protocol" else None) for k in keys)


def _conflicts(
    entries: list[ManagerEntry],
    live: dict[str, Any],
    applied: dict[str, Any],
    wanted: FieldSet,
    me: tuple[str, Operation, str],
) -> list[tuple[ManagerEntry, Path]]:
    out = []
    for entry in entries:
        if entry.identity == me:
            continue
        for path in entry.fields & wanted:
            if _is_leaf(applied, path) and value_at(live, path) != value_at(applied, path):
                out.append((entry, path))
    return out


def conflict_error(conflicts: list[tuple[ManagerEntry, Path]]) -> ApiError:
    """409 naming each conflicting field and its owner, worded like the real server."""
    by_manager: dict[tuple[str, str], list[str]] = {}
    for entry, path in conflicts:
        by_manager.setdefault((entry.manager, entry.api_version), []).append(render_path(path))
    n = len(conflicts)
    if len(by_manager) == 1 and n == 1:
        (manager, api_version), fields = next(iter(by_manager.items()))
        message = (
            f'Apply failed with 1 conflict: conflict with "{manager}" '
            f"using {api_version}: {fields[0]}"
        )
    else:
        parts = []
        for (manager, api_version), fields in by_manager.items():
            lines = "".join(f"\n- {f}" for f in sorted(fields))
            parts.append(f'conflicts with "{manager}" using {api_version}:{lines}')
        message = f"Apply failed with {n} conflicts: " + "\n".join(parts)
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{entry.manager}" using {entry.api_version}',
            "field": render_path(path),
        }
        for entry, path in conflicts
    ]
    return ApiError(409, StatusReason.CONFLICT, message, details={"causes": causes})


def server_side_apply(
    live: dict[str, Any] | None,
    live_entries: list[ManagerEntry],
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    now: str,
    subresource: str = "",
    forgiven: AbstractSet[Path] = frozenset(),
) -> tuple[dict[str, Any], list[ManagerEntry]]:
    """The object and managedFields after `manager` applies `applied`.

    Conflicts on `forgiven` paths are forced even without `force` (see `last_applied`).
    """
    me = (manager, Operation.APPLY, subresource)
    wanted = paths_of(applied)
    entries = list(live_entries)
    if live is None:
        merged = clone(applied)
    else:
        conflicts = _conflicts(entries, live, applied, wanted, me)
        blocking = [c for c in conflicts if c[1] not in forgiven]
        if blocking and not force:
            raise conflict_error(blocking)
        if conflicts:  # forced: the other managers lose the contested fields
            lost: dict[tuple[str, Operation, str], FieldSet] = {}
            for entry, path in conflicts:
                lost.setdefault(entry.identity, set()).add(path)
            entries = [
                replace(e, fields=e.fields - lost[e.identity]) if e.identity in lost else e
                for e in entries
            ]
        # merge_applied shares untouched subtrees with its inputs: clone before mutating.
        merged = clone(merge_applied(live, applied))
        previous = next((e.fields for e in entries if e.identity == me), set())
        keep = wanted | owned_by_others(entries, me)
        dropped = {p for p in previous - wanted if not covered(p, keep)}
        # Remove only the topmost dropped paths: members go with their list item, and an
        # item stripped of its key first could no longer be found.
        for path in dropped:
            if not any(path[:i] in dropped for i in range(1, len(path))):
                remove_path(merged, path)
    mine = next((e for e in entries if e.identity == me), None)
    api_version = applied.get("apiVersion", "")
    if mine is None:
        entries.append(
            ManagerEntry(manager, Operation.APPLY, api_version, now, wanted, subresource)
        )
    else:
        entries[entries.index(mine)] = mine.successor(
            fields=wanted, time=now, api_version=api_version
        )
    return merged, [e for e in entries if e.fields]


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def last_applied(live: dict[str, Any] | None, manager: str) -> FieldSet:
    """Fields whose conflicts `kubectl` may take over when moving from client-side apply.

    The API server forgives server-side apply by the manager "kubectl" its conflicts on
    the fields of the live object's last-applied-configuration annotation, so that
    `kubectl apply --server-side` after `kubectl apply` works without --force-conflicts.
    """
    if manager != "kubectl" or live is None:
        return set()
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return set()
    try:
        previous = json.loads(text)
    except ValueError:
        return set()
    return paths_of(previous) if isinstance(previous, dict) else set()


def track_update(
    entries: list[ManagerEntry],
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    subresource: str,
    now: str,
) -> list[ManagerEntry]:
    """Ownership after a non-apply write: changed fields move to `manager` (no conflicts)."""
    me = (manager, Operation.UPDATE, subresource)
    if old is None:
        changed, removed = paths_of(new), FieldSet()
    else:
        changed, removed = diff(old, new)
        if not changed and not removed:
            return entries
    lost = changed | removed
    out = []
    mine = None
    for entry in entries:
        if entry.identity == me:
            mine = entry.successor(
                fields=(entry.fields - removed) | changed,
                time=now,
                api_version=new.get("apiVersion", ""),
            )
            out.append(mine)
        elif entry.fields.isdisjoint(lost):
            out.append(entry)  # untouched: keep the entry (and its cached encoding)
        else:
            fields = entry.fields - lost
            if fields:
                out.append(
                    ManagerEntry(
                        entry.manager,
                        entry.operation,
                        entry.api_version,
                        entry.time,
                        fields,
                        entry.subresource,
                    )
                )
    if mine is None and changed:
        out.append(
            ManagerEntry(
                manager, Operation.UPDATE, new.get("apiVersion", ""), now, set(changed), subresource
            )
        )
    return [e for e in out if e.fields]
