"""Response schemas of the OpenAPI document: what each view answers, field by field.

Where it sits: used only by `api.openapi`; kept apart because it is long and because
changing a response's shape means changing it here (schemathesis checks the server
against these).
"""

from __future__ import annotations

from typing import Any

from engine.domain.enums import Health
from engine.supervisor import TaskState


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STR = {"type": "string"}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
OBJ = {"type": "object"}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": STR,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": STR,
            "instance": STR,
            "field": STR,
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": STR, "message": STR},
                },
            },
            "promotion_id": STR,
            "problems": {"type": "array", "items": STR},
        },
    },
    "ConfigReload": {
        "type": "object",
        "required": [
            "changed",
            "apps",
            "removed_apps",
            "targets_added",
            "targets_removed",
            "health_checks",
        ],
        "properties": {
            "changed": {"type": "boolean"},
            "apps": {
                "type": "object",
                "additionalProperties": {
                    "type": "string",
                    "enum": ["registered", "changed", "unchanged"],
                },
            },
            "removed_apps": {"type": "array", "items": STR},
            "targets_added": {"type": "array", "items": STR},
            "targets_removed": {"type": "array", "items": STR},
            "health_checks": {"type": "array", "items": STR},
        },
    },
    "HealthExplanation": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "api_version",
                        "kind",
                        "namespace",
                        "name",
                        "status",
                        "message",
                        "rule",
                    ],
                    "properties": {
                        "api_version": STR,
                        "kind": STR,
                        "namespace": STR,
                        "name": STR,
                        "status": {"enum": [h.value for h in Health]},
                        "message": STR,
                        "rule": {
                            "type": "string",
                            "description": "built-in <kind>, generic, missing, or a script's path",
                        },
                    },
                },
            }
        },
    },
    "Approval": {
        "type": "object",
        "required": ["by", "at", "comment"],
        "properties": {"by": STR, "at": TIME, "comment": STR},
    },
    "Promotion": {
        "type": "object",
        "required": ["id", "app", "environment", "release", "kind", "phase", "requested_by"],
        "properties": {
            "id": STR,
            "app": STR,
            "environment": STR,
            "release": STR,
            "release_number": INT,
            "kind": {"type": "string", "enum": ["manual", "auto", "rollback"]},
            "phase": {
                "type": "string",
                "enum": [
                    "awaiting_approval",
                    "started",
                    "synced",
                    "completed",
                    "failed",
                    "rejected",
                    "cancelled",
                    "superseded",
                ],
            },
            "requested_by": STR,
            "requested_at": TIME,
            "reason": STR,
            "from_environment": nullable(STR),
            "approvals_required": INT,
            "approvals": {"type": "array", "items": ref("Approval")},
            "previous_release": nullable(STR),
            "overrides": {"type": "array", "items": STR},
            "finished_at": nullable(TIME),
            "outcome": nullable(STR),
            "trace_id": nullable(STR),
            "trace_url": {
                "type": "string",
                "description": "the trace in Jaeger's UI (when BATON_JAEGER_URL is set)",
            },
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": [
            "position",
            "recorded_at",
            "actor",
            "action",
            "event_type",
            "summary",
            "stream_id",
        ],
        "properties": {
            "position": INT,
            "recorded_at": TIME,
            "app": nullable(STR),
            "environment": nullable(STR),
            "actor": STR,
            "action": STR,
            "event_type": STR,
            "summary": STR,
            "trace_id": nullable(STR),
            "correlation_id": nullable(STR),
            "stream_id": STR,
            "trace_url": {
                "type": "string",
                "description": "the trace in Jaeger's UI (when BATON_JAEGER_URL is set)",
            },
        },
    },
    "EventPage": {
        "type": "object",
        "required": ["items", "next_before", "next_after"],
        "properties": {
            "items": {"type": "array", "items": ref("AuditEntry")},
            "next_before": nullable(INT),
            "next_after": nullable(INT),
        },
    },
    "Event": {
        "type": "object",
        "description": "a raw event, as the live tail sends it (SSE `data`)",
        "required": ["position", "stream_id", "type", "data", "metadata", "recorded_at"],
        "properties": {
            "position": INT,
            "stream_id": STR,
            "stream_version": INT,
            "type": STR,
            "schema_version": INT,
            "data": OBJ,
            "metadata": {"type": "object", "required": ["actor"], "properties": {"actor": STR}},
            "recorded_at": TIME,
        },
    },
    "Environment": {
        "type": "object",
        "required": ["environment", "health", "sync_status", "in_flight"],
        "properties": {
            "environment": STR,
            "upstream": nullable(STR),
            "policy": nullable(OBJ),
            "desired_release": nullable(STR),
            "applied_release": nullable(STR),
            "last_verified_release": nullable(STR),
            "health": STR,
            "sync_status": STR,
            "in_flight": nullable(
                {
                    "type": "object",
                    "required": ["id", "release", "phase"],
                    "properties": {"id": STR, "release": STR, "phase": STR},
                }
            ),
            "last_promotion": nullable(OBJ),
            "last_changed_at": nullable(TIME),
            "last_actor": nullable(STR),
        },
    },
    "App": {
        "type": "object",
        "required": ["name", "source", "environments"],
        "properties": {
            "name": STR,
            "source": nullable(OBJ),
            "environments": {"type": "array", "items": ref("Environment")},
        },
    },
    "AppList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("App")}},
    },
    "Release": {
        "type": "object",
        "required": ["app", "sha", "number", "digest", "created_at"],
        "properties": {
            "app": STR,
            "sha": STR,
            "number": INT,
            "digest": STR,
            "message": STR,
            "author": STR,
            "committed_at": nullable(TIME),
            "created_at": TIME,
            "created_position": INT,
        },
    },
    "ReleasePage": {
        "type": "object",
        "required": ["items", "next_before"],
        "properties": {
            "items": {"type": "array", "items": ref("Release")},
            "next_before": nullable(INT),
        },
    },
    "Lineage": {
        "allOf": [ref("Release")],
        "type": "object",
        "required": ["environments"],
        "properties": {
            "environments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "environment",
                        "promotion_id",
                        "kind",
                        "requested_by",
                        "requested_at",
                        "approvals",
                    ],
                    "properties": {
                        "environment": STR,
                        "promotion_id": STR,
                        "kind": STR,
                        "requested_by": STR,
                        "requested_at": TIME,
                        "approvals": {"type": "array", "items": OBJ},
                        "started_at": nullable(TIME),
                        "synced_at": nullable(TIME),
                        "verified_at": nullable(TIME),
                        "soak_seconds": nullable({"type": "number"}),
                        "outcome": nullable(STR),
                        "rolled_back_at": nullable(TIME),
                        "rolled_back_by": nullable(STR),
                        "rolled_back_reason": nullable(STR),
                    },
                },
            }
        },
    },
    "Moment": {"type": "object", "properties": {"at": TIME, "position": INT}},
    "State": {
        "type": "object",
        "required": ["as_of", "targets"],
        "properties": {
            "as_of": ref("Moment"),
            "targets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["app", "environment"],
                    "properties": {
                        "app": STR,
                        "environment": STR,
                        "desired_release": nullable(STR),
                        "applied_release": nullable(STR),
                        "desired_since": nullable(TIME),
                        "applied_since": nullable(TIME),
                        "desired_by": nullable(STR),
                        "promotion_id": nullable(STR),
                    },
                },
            },
        },
    },
    "StateDiff": {
        "type": "object",
        "required": ["from", "to", "changes"],
        "properties": {
            "from": ref("Moment"),
            "to": ref("Moment"),
            "changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["app", "environment", "field", "from", "to"],
                    "properties": {
                        "app": STR,
                        "environment": STR,
                        "field": {"type": "string", "enum": ["desired_release", "applied_release"]},
                        "from": nullable(STR),
                        "to": nullable(STR),
                    },
                },
            },
        },
    },
    "Job": {
        "type": "object",
        "required": ["id", "kind", "state", "started_at"],
        "properties": {
            "id": STR,
            "kind": STR,
            "requested_by": STR,
            "state": {"type": "string", "enum": ["running", "succeeded", "failed"]},
            "started_at": TIME,
            "finished_at": nullable(TIME),
            "result": {},
            "error": nullable(STR),
        },
    },
    "ProjectionStatus": {
        "type": "object",
        "required": ["head_position", "projections"],
        "properties": {
            "head_position": INT,
            "projections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "version", "position", "lag"],
                    "properties": {
                        "name": STR,
                        "version": INT,
                        "position": INT,
                        "lag": INT,
                        "updated_at": nullable(TIME),
                        "last_error": nullable(STR),
                    },
                },
            },
        },
    },
    "AuditReport": {
        "type": "object",
        "required": ["ok", "checked", "head_position"],
        "properties": {
            "ok": {"type": "boolean"},
            "checked": INT,
            "head_position": INT,
            "broken_at": nullable(INT),
            "reason": nullable(STR),
        },
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": STR}},
    "Ready": {
        "type": "object",
        "required": ["ready", "checks", "tasks"],
        "properties": {
            "ready": {"type": "boolean"},
            "checks": OBJ,
            "tasks": {
                "type": "object",
                "description": "each background task of the process, by name (not a check)",
                "additionalProperties": ref("TaskState"),
            },
        },
    },
    "TaskState": {
        "type": "object",
        "required": ["state", "restarts", "failing_since", "last_error"],
        "properties": {
            "state": {"type": "string", "enum": [s.value for s in TaskState]},
            "restarts": INT,
            "failing_since": nullable(TIME),
            "last_error": nullable(STR),
        },
    },
    "WebhookResult": {
        "type": "object",
        "required": ["triggered"],
        "properties": {
            "triggered": {"type": "array", "items": STR},
            "branch": nullable(STR),
            "ignored": STR,
        },
    },
}
