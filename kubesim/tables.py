"""Server-side printing: `Table` answers for `kubectl get` without `-o`.

`handlers.py` answers with a Table when the Accept header asks for
`as=Table;g=meta.k8s.io`. Columns are NAME and AGE for every kind, plus the few columns
a person checks on workloads (READY, UP-TO-DATE, AVAILABLE; COMPLETIONS; STATUS).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Cell = Callable[[dict[str, Any]], Any]


def _age(obj: dict[str, Any]) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"))


def _since(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def _status(obj: dict[str, Any], key: str) -> int:
    return int(obj.get("status", {}).get(key) or 0)


def _ready(obj: dict[str, Any]) -> str:
    return f"{_status(obj, 'readyReplicas')}/{obj.get('spec', {}).get('replicas', 1)}"


def _job_status(obj: dict[str, Any]) -> str:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return str(cond["type"])
    return "Running"


def _pod_ready(obj: dict[str, Any]) -> str:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(obj: dict[str, Any]) -> str:
    for status in obj.get("status", {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting:
            return str(waiting.get("reason", "Waiting"))
    return str(obj.get("status", {}).get("phase", "Pending"))


_EXTRA: dict[tuple[str, str], list[tuple[str, Cell]]] = {
    ("apps", "deployments"): [
        ("Ready", _ready),
        ("Up-to-date", lambda o: _status(o, "updatedReplicas")),
        ("Available", lambda o: _status(o, "availableReplicas")),
    ],
    ("apps", "statefulsets"): [
        ("Ready", _ready),
    ],
    ("batch", "jobs"): [
        ("Status", _job_status),
        (
            "Completions",
            lambda o: f"{_status(o, 'succeeded')}/{o.get('spec', {}).get('completions', 1)}",
        ),
    ],
    ("", "namespaces"): [("Status", lambda o: o.get("status", {}).get("phase", ""))],
    ("", "nodes"): [
        (
            "Status",
            lambda o: (
                "Ready"
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in o.get("status", {}).get("conditions") or []
                )
                else "NotReady"
            ),
        ),
        (
            "Roles",
            lambda o: (
                ",".join(
                    k.rsplit("/", 1)[1]
                    for k in o["metadata"].get("labels", {})
                    if k.startswith("node-role.kubernetes.io/")
                )
                or "<none>"
            ),
        ),
        ("Version", lambda o: o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")),
    ],
    ("", "pods"): [("Ready", _pod_ready), ("Status", _pod_status), ("Restarts", lambda o: 0)],
    ("apps", "replicasets"): [
        ("Desired", lambda o: o.get("spec", {}).get("replicas", 0)),
        ("Current", lambda o: _status(o, "replicas")),
        ("Ready", lambda o: _status(o, "readyReplicas")),
    ],
}


_EVENT_COLUMNS: list[tuple[str, Cell]] = [
    (
        "Last Seen",
        lambda o: _since(o.get("lastTimestamp") or o["metadata"].get("creationTimestamp")),
    ),
    ("Type", lambda o: o.get("type", "")),
    ("Reason", lambda o: o.get("reason", "")),
    (
        "Object",
        lambda o: (
            f"{str(o.get('involvedObject', {}).get('kind', '')).lower()}/"
            f"{o.get('involvedObject', {}).get('name', '')}"
        ),
    ),
    ("Message", lambda o: o.get("message", "")),
]
# Kinds whose table does not follow the NAME ... AGE shape.
_OWN_COLUMNS: dict[tuple[str, str], list[tuple[str, Cell]]] = {("", "events"): _EVENT_COLUMNS}


def table(
    table_key: tuple[str, str], objects: list[dict[str, Any]], *, rv: str, include_object: str
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of objects."""
    columns = _OWN_COLUMNS.get(table_key) or [
        ("Name", _name),
        *_EXTRA.get(table_key, []),
        ("Age", _age),
    ]
    definitions = [
        {
            "name": name,
            "type": "string",
            "format": "name" if name == "Name" else "",
            "description": name,
            "priority": 0,
        }
        for name, _ in columns
    ]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _, cell in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": definitions,
        "rows": rows,
    }


def wants_table(accept: str) -> bool:
    """Whether the Accept header asks for a Table."""
    return "as=Table" in accept and "g=meta.k8s.io" in accept
