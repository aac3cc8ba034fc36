"""List reads: selectors, `limit` and `continue` paging over one resource's table.

`operations.py` delegates list requests here. Paging walks the table in (namespace, name)
order, the order etcd keys have; a continue token names the last key served and the
resourceVersion of the first page, and expires (410) with the watch history.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubesim import errors
from kubesim.resources import ResourceType
from kubesim.selectors import Selector
from kubesim.store import ObjectKey, Store

View = Callable[[ResourceType, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ListOptions:
    """Query parameters of list."""

    selector: Selector = field(default_factory=Selector)
    limit: int = 0
    continue_token: str = ""


def _snapshot(
    store: Store, rt: ResourceType, namespace: str | None, rv: int
) -> Iterator[tuple[ObjectKey, dict[str, Any]]]:
    """(key, object) in key order as they were at `rv`, rebuilt from the watch history.

    The first change after `rv` to a key tells its state at `rv`: the object it replaced,
    or nothing when it was created later.
    """
    since = store.events_since(rv) or []
    then: dict[ObjectKey, dict[str, Any] | None] = {}
    for event in since:
        if event.table == rt.key:
            key = (event.namespace, event.obj["metadata"]["name"])
            then.setdefault(key, event.old)
    current = store.table(rt)
    for key in sorted(current.keys() | then.keys()):
        if namespace is not None and key[0] != namespace:
            continue
        obj = then[key] if key in then else current[key].obj
        if obj is not None:
            yield key, obj


def list_objects(
    store: Store, rt: ResourceType, namespace: str | None, opts: ListOptions, view: View
) -> dict[str, Any]:
    """A list document, with paging by `limit` and `continue`.

    Later pages show the objects as they were when the first page was served, as etcd's
    snapshots do, so a paging client sees one consistent list.
    """
    start: ObjectKey | None = None
    rv = store.rv
    if opts.continue_token:
        rv, start = decode_continue(store, opts.continue_token)
    items: list[dict[str, Any]] = []
    remaining = 0
    last_key: ObjectKey | None = None
    for key, obj in _snapshot(store, rt, namespace, rv):
        if start is not None and key <= start:
            continue
        if not opts.selector.empty and not opts.selector.matches(obj):
            continue
        if opts.limit and len(items) >= opts.limit:
            remaining += 1
            continue
        items.append(view(rt, obj))
        last_key = key
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if remaining and last_key is not None:
        token = json.dumps({"rv": rv, "start": list(last_key)})
        metadata["continue"] = base64.urlsafe_b64encode(token.encode()).decode()
        metadata["remainingItemCount"] = remaining
    return {
        "kind": rt.kind + "List",
        "apiVersion": rt.api_version,
        "metadata": metadata,
        "items": items,
    }


def decode_continue(store: Store, token: str) -> tuple[int, ObjectKey]:
    """The snapshot version and last key of a token; 400 when garbled, 410 when expired."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        rv, start = int(data["rv"]), data["start"]
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request(f"invalid continue token: {exc}") from None
    if rv < store.compacted:
        raise errors.expired(
            "The provided continue parameter is too old to display a consistent list "
            "result. You can start a new list without the continue parameter."
        )
    return rv, (str(start[0]), str(start[1]))
