"""Turning domain values and read-model rows into JSON responses.

Where it sits: the last step of a view. Read models return plain dicts whose datetimes
(and the odd UUID or Decimal) are made JSON here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from engine.domain.promotion import Promotion
from engine.store import RecordedEvent


def _default(value: Any) -> Any:
    """What orjson does not know natively (it does datetimes, UUIDs, enums, dataclasses)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dump_bytes(value: Any) -> bytes:
    """JSON of a response body (orjson: read responses are mostly rows of datetimes)."""
    return orjson.dumps(value, default=_default)


def dumps(value: Any) -> str:
    """JSON text of a response body."""
    return dump_bytes(value).decode()


def json_response(
    value: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response."""
    return web.Response(
        body=dump_bytes(value), status=status, headers=headers, content_type="application/json"
    )


def promotion_json(app: str, environment: str, promotion: Promotion) -> dict[str, Any]:
    """A promotion as the API shows it."""
    return {
        "id": promotion.id,
        "app": app,
        "environment": environment,
        "release": promotion.release,
        "release_number": promotion.release_number,
        "kind": promotion.kind.value,
        "phase": promotion.phase.value,
        "requested_by": promotion.requested_by,
        "requested_at": promotion.requested_at.isoformat(),
        "reason": promotion.reason,
        "from_environment": promotion.from_environment,
        "approvals_required": promotion.approvals_required,
        "approvals": [
            {"by": a.by, "at": a.at.isoformat(), "comment": a.comment} for a in promotion.approvals
        ],
        "previous_release": promotion.previous_release,
        "overrides": list(promotion.overrides),
        "finished_at": promotion.finished_at.isoformat() if promotion.finished_at else None,
        "outcome": promotion.outcome,
    }


def event_json(event: RecordedEvent) -> dict[str, Any]:
    """A recorded event as the audit log and the live tail show it."""
    return {
        "position": event.position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata.to_json(),
        "recorded_at": event.recorded_at.isoformat(),
    }
