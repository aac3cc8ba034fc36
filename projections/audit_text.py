"""One line a person can read for each event: the `summary` of an audit row.

Rendered when a page of the audit is read, from the event's own document: a sentence is
a pure function of the event, so a replay need not render a million of them. A type it
does not know, or a document missing what its sentence needs, reads as the action and the
start of the document: nothing is ever left out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from engine.domain.vocabulary import EventType

Doc = Mapping[str, Any]


class _Missing(Exception):
    """A field the sentence needs is not in the document."""


def _text(value: Any) -> str | None:
    # what Postgres's ->> gives: JSON strings bare, other values as JSON
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _req(d: Doc, key: str) -> str:
    value = _text(d.get(key))
    if value is None:
        raise _Missing(key)
    return value


def _opt(d: Doc, key: str, default: str = "") -> str:
    value = _text(d.get(key))
    return default if value is None else value


def _sha(d: Doc, key: str = "release") -> str:
    return _req(d, key)[:12]  # shortened like `git log --oneline`


def _texts(values: Any, limit: int | None = None) -> list[str]:
    items = values if isinstance(values, list) else []
    return [t for v in items[:limit] if (t := _text(v)) is not None]


def _objects(d: Doc) -> list[Any]:
    objects = d.get("objects")
    return objects if isinstance(objects, list) else []


def _sync_succeeded(d: Doc) -> str:
    objects = _objects(d)
    actions = Counter(o.get("action") for o in objects if isinstance(o, dict))
    done = ", ".join(f"{n} {a}" for a, n in sorted(actions.items()) if isinstance(a, str))
    retries = sum(int(o.get("attempts") or 1) - 1 for o in objects if isinstance(o, dict))
    return (
        f"applied {_sha(d)} (sync {_req(d, 'sync_id')}, {len(objects)} objects"
        + (f": {done}" if done else "")
        + (f", {retries} retries" if retries > 0 else "")
        + ")"
    )


def _sync_failed(d: Doc) -> str:
    attempts = int(d.get("attempts") or 1)
    return (
        f"sync {_req(d, 'sync_id')} failed at {_opt(d, 'object', '?')}: {_opt(d, 'reason')}: "
        f"{_opt(d, 'message')}" + (f" (after {attempts} attempts)" if attempts > 1 else "")
    )


def _drift_detected(d: Doc) -> str:
    objects = _objects(d)
    named = [
        f"{o['object']} ({', '.join(_texts(o.get('fields'), 3))})"
        for o in objects[:3]
        if isinstance(o, dict) and isinstance(o.get("object"), str)
    ]
    return f"drift in {len(objects)} objects: {'; '.join(named)}"


def _health_changed(d: Doc) -> str:
    reasons = "; ".join(_texts(d.get("reasons"), 3))
    line = f"health {_opt(d, 'previous', '?')} → {_req(d, 'health')}"
    return f"{line}: {reasons}" if reasons else line


def _requested(d: Doc) -> str:
    reason = _opt(d, "reason")
    return f"requested {_req(d, 'kind')} promotion {_req(d, 'promotion_id')} of {_sha(d)}" + (
        f": {reason}" if reason else ""
    )


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0][:80]


_SENTENCES: dict[str, Callable[[Doc], str]] = {
    EventType.APP_REGISTERED: lambda d: f"registered app {_req(d, 'name')}",
    EventType.APP_CONFIG_CHANGED: lambda d: (
        "changed config: "
        + ", ".join(p for c in d.get("diff") or [] if isinstance(p := c.get("path"), str))
    ),
    EventType.APP_COMMIT_OBSERVED: lambda d: (
        f"saw commit {_sha(d, 'sha')} by {_opt(d, 'author', '?')}: "
        + _first_line(_req(d, "message"))
    ),
    EventType.RELEASE_CREATED: lambda d: (
        f"created release #{_req(d, 'number')} from {_sha(d, 'sha')}"
    ),
    EventType.RELEASE_REJECTED: lambda d: (
        f"rejected {_sha(d, 'sha')}: {_opt(d, 'file')}:{_opt(d, 'line')}: {_opt(d, 'reason')}"
    ),
    EventType.APP_HISTORY_REWRITTEN: lambda d: (
        f"branch rewritten: {_sha(d, 'old_head')} → {_sha(d, 'new_head')}"
    ),
    EventType.TARGET_CREATED: lambda d: "target created",
    EventType.PROMOTION_REQUESTED: _requested,
    EventType.POLICY_OVERRIDDEN: lambda d: (
        f"{_req(d, 'by')} overrode "
        f"{', '.join(_texts(d.get('rules')))} for {_req(d, 'promotion_id')}: {_opt(d, 'reason')}"
    ),
    EventType.PROMOTION_APPROVED: lambda d: f"{_req(d, 'by')} approved {_req(d, 'promotion_id')}",
    EventType.PROMOTION_STARTED: lambda d: (
        f"started {_req(d, 'promotion_id')}: desired release is now {_sha(d)}"
    ),
    EventType.PROMOTION_REJECTED: lambda d: (
        f"{_req(d, 'by')} rejected {_req(d, 'promotion_id')}: {_opt(d, 'reason')}"
    ),
    EventType.PROMOTION_CANCELLED: lambda d: (
        f"{_req(d, 'by')} cancelled {_req(d, 'promotion_id')}: {_opt(d, 'reason')}"
    ),
    EventType.PROMOTION_SUPERSEDED: lambda d: (
        f"{_req(d, 'promotion_id')} superseded by {_opt(d, 'by_promotion', '?')}"
    ),
    EventType.RELEASE_ROLLED_BACK: lambda d: f"rolled back {_sha(d)} ({_req(d, 'promotion_id')})",
    EventType.SYNC_SUCCEEDED: _sync_succeeded,
    EventType.SYNC_STARTED: lambda d: (
        f"started sync {_req(d, 'sync_id')} of {_sha(d)}: "
        f"{_req(d, 'object_count')} objects ({_opt(d, 'reason')})"
    ),
    EventType.SYNC_FAILED: _sync_failed,
    EventType.SYNC_ABANDONED: lambda d: (
        f"abandoned sync {_req(d, 'sync_id')} of {_sha(d)}: {_opt(d, 'reason')}"
    ),
    EventType.DRIFT_DETECTED: _drift_detected,
    EventType.DRIFT_CORRECTED: lambda d: (
        f"corrected drift of {', '.join(_texts(d.get('objects'), 3))} (sync {_req(d, 'sync_id')})"
    ),
    EventType.HEALTH_CHANGED: _health_changed,
    EventType.PROMOTION_VERIFIED: lambda d: f"verified {_sha(d)} ({_req(d, 'promotion_id')})",
    EventType.PROMOTION_FAILED: lambda d: f"{_req(d, 'promotion_id')} failed: {_opt(d, 'reason')}",
}


def summary(event_type: str, data: Doc) -> str:
    """The event as one line: who did what, to which release or promotion."""
    sentence = _SENTENCES.get(event_type)
    if sentence is not None:
        try:
            return sentence(data)
        except (_Missing, AttributeError, TypeError, ValueError):
            pass  # a document of an unexpected shape still gets a line
    action = event_type.rpartition(".")[2]
    return f"{action} {json.dumps(data, ensure_ascii=False)[:160]}"
