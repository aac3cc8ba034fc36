"""The OpenAPI 3.1 document of the API, built from the same models the views validate with.

Where it sits: served at /api/v1/openapi.json. Request schemas come from `api.schemas`
(so the document cannot drift from validation); response schemas are declared here, and
the test suite checks every route is documented and runs schemathesis against the server.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from api import schemas
from api.guard import public
from api.render import json_response

PROBLEM = "application/problem+json"
JSON = "application/json"
_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_OBJ = {"type": "object"}

_RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": _STR,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": _STR,
            "instance": _STR,
            "field": _STR,
            "errors": {
                "type": "array",
                "items": {"type": "object", "required": ["field", "message"],
                          "properties": {"field": _STR, "message": _STR}},
            },
            "promotion_id": _STR,
        },
    },
    "Approval": {
        "type": "object",
        "required": ["by", "at", "comment"],
        "properties": {"by": _STR, "at": _TIME, "comment": _STR},
    },
    "Promotion": {
        "type": "object",
        "required": ["id", "app", "environment", "release", "kind", "phase", "requested_by"],
        "properties": {
            "id": _STR,
            "app": _STR,
            "environment": _STR,
            "release": _STR,
            "release_number": _INT,
            "kind": {"type": "string", "enum": ["manual", "auto", "rollback"]},
            "phase": {"type": "string", "enum": [
                "awaiting_approval", "started", "synced", "completed", "failed", "rejected",
                "cancelled", "superseded"]},
            "requested_by": _STR,
            "requested_at": _TIME,
            "reason": _STR,
            "from_environment": _nullable(_STR),
            "approvals_required": _INT,
            "approvals": {"type": "array", "items": _ref("Approval")},
            "previous_release": _nullable(_STR),
            "overrides": {"type": "array", "items": _STR},
            "finished_at": _nullable(_TIME),
            "outcome": _nullable(_STR),
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": ["position", "recorded_at", "actor", "action", "event_type", "summary",
                     "stream_id"],
        "properties": {
            "position": _INT, "recorded_at": _TIME, "app": _nullable(_STR),
            "environment": _nullable(_STR), "actor": _STR, "action": _STR,
            "event_type": _STR, "summary": _STR, "trace_id": _nullable(_STR),
            "correlation_id": _nullable(_STR), "stream_id": _STR,
        },
    },
    "EventPage": {
        "type": "object",
        "required": ["items", "next_before", "next_after"],
        "properties": {"items": {"type": "array", "items": _ref("AuditEntry")},
                       "next_before": _nullable(_INT), "next_after": _nullable(_INT)},
    },
    "Event": {
        "type": "object",
        "description": "a raw event, as the live tail sends it (SSE `data`)",
        "required": ["position", "stream_id", "type", "data", "metadata", "recorded_at"],
        "properties": {
            "position": _INT, "stream_id": _STR, "stream_version": _INT, "type": _STR,
            "schema_version": _INT, "data": _OBJ,
            "metadata": {"type": "object", "required": ["actor"], "properties": {"actor": _STR}},
            "recorded_at": _TIME,
        },
    },
    "Environment": {
        "type": "object",
        "required": ["environment", "health", "sync_status", "in_flight"],
        "properties": {
            "environment": _STR, "upstream": _nullable(_STR), "policy": _nullable(_OBJ),
            "desired_release": _nullable(_STR), "applied_release": _nullable(_STR),
            "last_verified_release": _nullable(_STR), "health": _STR, "sync_status": _STR,
            "in_flight": _nullable({"type": "object", "required": ["id", "release", "phase"],
                                    "properties": {"id": _STR, "release": _STR,
                                                   "phase": _STR}}),
            "last_promotion": _nullable(_OBJ), "last_changed_at": _nullable(_TIME),
            "last_actor": _nullable(_STR),
        },
    },
    "App": {
        "type": "object",
        "required": ["name", "source", "environments"],
        "properties": {"name": _STR, "source": _nullable(_OBJ),
                       "environments": {"type": "array", "items": _ref("Environment")}},
    },
    "AppList": {"type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": _ref("App")}}},
    "Release": {
        "type": "object",
        "required": ["app", "sha", "number", "digest", "created_at"],
        "properties": {"app": _STR, "sha": _STR, "number": _INT, "digest": _STR,
                       "message": _STR, "author": _STR, "committed_at": _nullable(_TIME),
                       "created_at": _TIME, "created_position": _INT},
    },
    "ReleasePage": {
        "type": "object",
        "required": ["items", "next_before"],
        "properties": {"items": {"type": "array", "items": _ref("Release")},
                       "next_before": _nullable(_INT)},
    },
    "Lineage": {
        "allOf": [_ref("Release")],
        "type": "object",
        "required": ["environments"],
        "properties": {"environments": {"type": "array", "items": {
            "type": "object",
            "required": ["environment", "promotion_id", "kind", "requested_by",
                         "requested_at", "approvals"],
            "properties": {
                "environment": _STR, "promotion_id": _STR, "kind": _STR,
                "requested_by": _STR, "requested_at": _TIME,
                "approvals": {"type": "array", "items": _OBJ},
                "started_at": _nullable(_TIME), "synced_at": _nullable(_TIME),
                "verified_at": _nullable(_TIME), "soak_seconds": _nullable({"type": "number"}),
                "outcome": _nullable(_STR), "rolled_back_at": _nullable(_TIME),
                "rolled_back_by": _nullable(_STR), "rolled_back_reason": _nullable(_STR),
            }}}},
    },
    "Moment": {"type": "object", "properties": {"at": _TIME, "position": _INT}},
    "State": {
        "type": "object",
        "required": ["as_of", "targets"],
        "properties": {"as_of": _ref("Moment"), "targets": {"type": "array", "items": {
            "type": "object", "required": ["app", "environment"],
            "properties": {"app": _STR, "environment": _STR,
                           "desired_release": _nullable(_STR),
                           "applied_release": _nullable(_STR),
                           "desired_since": _nullable(_TIME), "applied_since": _nullable(_TIME),
                           "desired_by": _nullable(_STR), "promotion_id": _nullable(_STR)}}}},
    },
    "StateDiff": {
        "type": "object",
        "required": ["from", "to", "changes"],
        "properties": {"from": _ref("Moment"), "to": _ref("Moment"), "changes": {
            "type": "array", "items": {
                "type": "object", "required": ["app", "environment", "field", "from", "to"],
                "properties": {"app": _STR, "environment": _STR,
                               "field": {"type": "string",
                                         "enum": ["desired_release", "applied_release"]},
                               "from": _nullable(_STR), "to": _nullable(_STR)}}}},
    },
    "Job": {
        "type": "object",
        "required": ["id", "kind", "state", "started_at"],
        "properties": {"id": _STR, "kind": _STR, "requested_by": _STR,
                       "state": {"type": "string", "enum": ["running", "succeeded", "failed"]},
                       "started_at": _TIME, "finished_at": _nullable(_TIME), "result": {},
                       "error": _nullable(_STR)},
    },
    "ProjectionStatus": {
        "type": "object",
        "required": ["head_position", "projections"],
        "properties": {"head_position": _INT, "projections": {"type": "array", "items": {
            "type": "object", "required": ["name", "version", "position", "lag"],
            "properties": {"name": _STR, "version": _INT, "position": _INT, "lag": _INT,
                           "updated_at": _nullable(_TIME), "last_error": _nullable(_STR)}}}},
    },
    "AuditReport": {
        "type": "object",
        "required": ["ok", "checked", "head_position"],
        "properties": {"ok": {"type": "boolean"}, "checked": _INT, "head_position": _INT,
                       "broken_at": _nullable(_INT), "reason": _nullable(_STR)},
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": _STR}},
    "Ready": {"type": "object", "required": ["ready", "checks"],
              "properties": {"ready": {"type": "boolean"}, "checks": _OBJ}},
    "WebhookResult": {
        "type": "object",
        "required": ["triggered"],
        "properties": {"triggered": {"type": "array", "items": _STR},
                       "branch": _nullable(_STR), "ignored": _STR},
    },
}

_REQUEST_MODELS: list[type[BaseModel]] = [
    schemas.PromotionCreate, schemas.RollbackCreate, schemas.ApprovalBody,
    schemas.DecisionBody, schemas.ReplayCreate, schemas.OverrideBody,
]

_REASONS = {
    400: "The request is malformed",
    401: "No valid bearer token",
    403: "The token's roles do not allow this",
    404: "Not found",
    409: "Refused by a rule or the target's state (see `type`)",
    413: "The body is too large",
    422: "A field is not valid (see `field` and `errors`)",
    503: "Not ready",
}


def _problems(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": _REASONS[c], "content": {PROBLEM: {"schema": _ref("Problem")}}}
            for c in codes}


def _ok(status: int, schema: str, description: str, **extra: Any) -> dict[str, Any]:
    return {str(status): {"description": description,
                          "content": {JSON: {"schema": _ref(schema)}}, **extra}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            "description": description}


def _body(model: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": _ref(model)}}}


def _op(op_id: str, summary: str, tag: str, responses: dict[str, Any], *,
        secured: bool = True, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag],
                          "responses": responses, **extra}
    if secured:
        op["security"] = [{"bearer": []}]
        op["responses"] = {**_problems(401), **responses}
    else:
        op["security"] = []
    return op


_LOCATION = {"headers": {"Location": {"schema": {"type": "string"},
                                      "description": "the promotion's URL"}}}
_POSITION = {"type": "integer", "minimum": 0, "maximum": 2**62}
_MOMENT = {"type": "string", "description": "an RFC 3339 time, or a log position"}
_NAME = {"type": "string", "pattern": schemas.NAME_PATTERN}


def _paths() -> dict[str, Any]:
    write = _problems(400, 403, 409, 413, 422)
    decision = _problems(400, 403, 404, 409, 413, 422)
    filters = [
        _query("app", _NAME, "only this app"),
        _query("environment", _NAME, "only this environment"),
        _query("actor", {"type": "string"}, "only events this actor caused"),
        _query("type", {"type": "string"}, "only this event type (`PromotionApproved` or "
               "`Target.PromotionApproved`)"),
    ]
    return {
        "/healthz": {"get": _op("healthz", "Liveness", "health",
                                _ok(200, "Health", "the process answers"), secured=False)},
        "/readyz": {"get": _op("readyz", "Readiness: database, migrations, projection lag",
                               "health", {**_ok(200, "Ready", "ready"),
                                          "503": {"description": "not ready",
                                                  "content": {JSON: {"schema": _ref("Ready")}}}},
                               secured=False)},
        "/openapi.json": {"get": _op("openapi", "This document", "health",
                                     {"200": {"description": "the OpenAPI document",
                                              "content": {JSON: {"schema": _OBJ}}}},
                                     secured=False)},
        "/apps": {"get": _op("list_apps", "Every app's pipeline", "apps",
                             {**_ok(200, "AppList", "apps"), **_problems(503)})},
        "/apps/{app}": {"get": _op(
            "get_app", "One app's pipeline: desired/applied release, health, sync, in flight",
            "apps", {**_ok(200, "App", "the app"), **_problems(404, 503)},
            parameters=[_path("app", "the app's name")])},
        "/apps/{app}/releases": {"get": _op(
            "list_releases", "An app's releases, newest first", "apps",
            {**_ok(200, "ReleasePage", "a page"), **_problems(404, 422, 503)},
            parameters=[_path("app", "the app's name"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200},
                               "page size"),
                        _query("before", {"type": "integer", "minimum": 1,
                                          "maximum": 2**31 - 1},
                               "release number to page back from (`next_before`)")])},
        "/apps/{app}/releases/{sha}": {"get": _op(
            "get_release", "A release's lineage: where it went, when, approvals, rollbacks",
            "apps", {**_ok(200, "Lineage", "the lineage"), **_problems(404, 503)},
            parameters=[_path("app", "the app's name"), _path("sha", "the commit SHA")])},
        "/promotions": {"post": _op(
            "create_promotion", "Ask for a release to run in an environment", "promotions",
            {**_ok(202, "Promotion", "accepted", **_LOCATION), **write},
            requestBody=_body("PromotionCreate"),
            parameters=[_IDEMPOTENCY])},
        "/promotions/{promotion_id}": {"get": _op(
            "get_promotion", "One promotion", "promotions",
            {**_ok(200, "Promotion", "the promotion"), **_problems(404)},
            parameters=[_path("promotion_id", "the promotion's id")])},
        **{
            f"/promotions/{{promotion_id}}/{verb}": {"post": _op(
                f"{verb}_promotion", summary, "promotions",
                {**_ok(200, "Promotion", "the promotion after the decision"), **decision},
                requestBody=_body(model, required=False),
                parameters=[_path("promotion_id", "the promotion's id"), _IDEMPOTENCY])}
            for verb, summary, model in (
                ("approve", "Approve (someone other than the requester)", "ApprovalBody"),
                ("reject", "Reject a promotion awaiting approval", "DecisionBody"),
                ("cancel", "Cancel a promotion before it starts", "DecisionBody"),
            )
        },
        "/rollbacks": {"post": _op(
            "create_rollback", "Roll back to a release verified before", "promotions",
            {**_ok(202, "Promotion", "accepted", **_LOCATION), **write},
            requestBody=_body("RollbackCreate"), parameters=[_IDEMPOTENCY])},
        "/events": {"get": _op(
            "list_events", "The audit log, newest first; NDJSON with "
            "`Accept: application/x-ndjson`", "audit",
            {"200": {"description": "a page of events (or all of them as NDJSON)",
                     "content": {JSON: {"schema": _ref("EventPage")},
                                 "application/x-ndjson": {"schema": _OBJ}}},
             **_problems(422, 503)},
            parameters=[*filters,
                        _query("since", {"type": "string", "format": "date-time"},
                               "recorded at or after"),
                        _query("until", {"type": "string", "format": "date-time"},
                               "recorded before"),
                        _query("before", _POSITION, "page back from this position"),
                        _query("after", _POSITION, "only events after this position"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500},
                               "page size")])},
        "/events/stream": {"get": _op(
            "stream_events", "The log tailed live as server-sent events", "audit",
            {"200": {"description": "an endless text/event-stream: each message's id is the "
                     "event's position, its event the type, its data an `Event`",
                     "content": {"text/event-stream": {"schema": _STR}}},
             **_problems(422)},
            parameters=[*filters, _query("after", _POSITION, "start after this position "
                                         "(default: now); `Last-Event-ID` also works")])},
        "/state": {"get": _op(
            "state", "Time travel: what ran where at a moment", "time-travel",
            {**_ok(200, "State", "the state"), **_problems(422, 503)},
            parameters=[_query("as_of", _MOMENT, "default: now")])},
        "/state/diff": {"get": _op(
            "state_diff", "What changed between two moments", "time-travel",
            {**_ok(200, "StateDiff", "the changes"), **_problems(422, 503)},
            parameters=[{**_query("from", _MOMENT, "the earlier moment"), "required": True},
                        _query("to", _MOMENT, "the later moment (default: now)")])},
        "/audit/verify": {"get": _op(
            "audit_verify", "Recompute the hash chain", "audit",
            _ok(200, "AuditReport", "the report"))},
        "/admin/replay": {"post": _op(
            "start_replay", "Rebuild projections in the background", "admin",
            {**_ok(202, "Job", "the job", headers=_LOCATION["headers"]),
             **_problems(400, 403, 409, 413, 422, 503)},
            requestBody=_body("ReplayCreate", required=False), parameters=[_IDEMPOTENCY])},
        "/admin/replay/{job_id}": {"get": _op(
            "get_replay", "A replay job", "admin",
            {**_ok(200, "Job", "the job"), **_problems(403, 404)},
            parameters=[_path("job_id", "the job's id")])},
        "/admin/projections": {"get": _op(
            "projections", "Projection checkpoints and lag", "admin",
            {**_ok(200, "ProjectionStatus", "the status"), **_problems(403, 503)})},
        "/webhooks/git": {"post": _op(
            "git_webhook", "A GitHub or GitLab push: poll the repository now", "git",
            {**_ok(202, "WebhookResult", "the apps woken"), **_problems(400, 401, 404, 413,
                                                                          422)},
            secured=False,
            parameters=[{"name": "X-Hub-Signature-256", "in": "header", "required": False,
                         "schema": _STR, "description": "GitHub: sha256=<HMAC of the body>"},
                        {"name": "X-Gitlab-Token", "in": "header", "required": False,
                         "schema": _STR, "description": "GitLab: the shared secret"}],
            requestBody={"required": True, "content": {JSON: {"schema": _OBJ}}})},
    }


_IDEMPOTENCY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "a retry with the same key gets the first answer; nothing is written twice",
}


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document."""
    components: dict[str, Any] = dict(_RESPONSE_SCHEMAS)
    for model in _REQUEST_MODELS:
        schema = model.model_json_schema(ref_template=_REF)
        for name, definition in schema.pop("$defs", {}).items():
            components[name] = definition
        components[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "baton",
            "version": "1",
            "description": "Promote, approve, roll back, audit and time-travel GitOps "
            "releases. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@public
async def serve(request: web.Request) -> web.Response:
    """GET /openapi.json."""
    return json_response(document())
