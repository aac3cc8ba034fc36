"""List reads: selectors, `limit` and `continue` paging over one resource's table.

`operations.py` delegates list requests here. Paging walks the table in (namespace, name)
order, the order etcd keys have; a continue token names the last key served and the
resourceVersion of the first page, and expires (410) with the watch history.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubesim import errors
from kubesim.resources import ResourceType
from kubesim.selectors import Selector
from kubesim.store import Store

View = Callable[[ResourceType, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ListOptions:
    """Query parameters of list."""

    selector: Selector = field(default_factory=Selector)
    limit: int = 0
    continue_token: str = ""


def list_objects(
    store: Store, rt: ResourceType, namespace: str | None, opts: ListOptions, view: View
) -> dict[str, Any]:
    """A list document, with paging by `limit` and `continue`."""
    start = decode_continue(store, opts.continue_token) if opts.continue_token else None
    items: list[dict[str, Any]] = []
    remaining = 0
    last_key: tuple[str, str] | None = None
    for stored in store.items(rt, namespace):
        meta = stored.obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if start is not None and key <= start:
            continue
        if not opts.selector.empty and not opts.selector.matches(stored.obj):
            continue
        if opts.limit and len(items) >= opts.limit:
            remaining += 1
            continue
        items.append(view(rt, stored.obj))
        last_key = key
    metadata: dict[str, Any] = {"resourceVersion": str(store.rv)}
    if remaining and last_key is not None:
        token = json.dumps({"rv": store.rv, "start": list(last_key)})
        metadata["continue"] = base64.urlsafe_b64encode(token.encode()).decode()
        metadata["remainingItemCount"] = remaining
    return {"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": metadata,
            "items": items}


def decode_continue(store: Store, token: str) -> tuple[str, str]:
    """The last key a continue token names; 400 when garbled, 410 when expired."""
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
    return (str(start[0]), str(start[1]))
