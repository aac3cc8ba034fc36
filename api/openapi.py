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
from api.bodies import MAX_DEPTH
from api.config import MAX_BODY_BYTES
from api.guard import public
from api.openapi_schemas import OBJ, RESPONSE_SCHEMAS, STR, ref
from api.render import json_response

PROBLEM = "application/problem+json"
JSON = "application/json"
_REF = "#/components/schemas/{model}"


_REQUEST_MODELS: list[type[BaseModel]] = [
    schemas.PromotionCreate,
    schemas.RollbackCreate,
    schemas.ApprovalBody,
    schemas.DecisionBody,
    schemas.ReplayCreate,
    schemas.OverrideBody,
    schemas.HealthExplain,
]

_REASONS = {
    400: "The request is malformed: an undeclared query parameter, or a body that is not "
    f"UTF-8 JSON or nests objects and arrays more than {MAX_DEPTH} deep",
    401: "No valid bearer token",
    403: "The token's roles do not allow this",
    404: "Not found",
    409: "Refused by a rule or the target's state (see `type`)",
    413: "The body is too large",
    415: "The body is not `application/json` (see `field`: Content-Type)",
    422: "A field is not valid, or holds text that cannot be stored (NUL, a lone surrogate); "
    "see `field` and `errors`",
    503: "Not ready, or the database is unavailable: retry after `Retry-After` seconds",
}


def _problems(*codes: int) -> dict[str, Any]:
    return {
        str(c): {"description": _REASONS[c], "content": {PROBLEM: {"schema": ref("Problem")}}}
        for c in codes
    }


def _ok(status: int, schema: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        str(status): {
            "description": description,
            "content": {JSON: {"schema": ref(schema)}},
            **extra,
        }
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _body(model: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": ref(model)}}}


def _op(
    op_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    secured: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
        **extra,
    }
    # every operation refuses query parameters it does not declare
    op["responses"] = {**_problems(400), **responses}
    if secured:
        op["security"] = [{"bearer": []}]
        # every authorised operation reads or writes the database, which can be unavailable
        op["responses"] = {**_problems(401, 503), **op["responses"]}
    else:
        op["security"] = []
    return op


_LOCATION = {
    "headers": {"Location": {"schema": {"type": "string"}, "description": "the promotion's URL"}}
}
_POSITION = {"type": "integer", "minimum": 0, "maximum": 2**62}
_MOMENT = {"type": "string", "description": "an RFC 3339 time, or a log position"}
_NAME = {"type": "string", "pattern": schemas.NAME_PATTERN}


def _paths() -> dict[str, Any]:
    write = _problems(400, 403, 409, 413, 415, 422)
    decision = _problems(400, 403, 404, 409, 413, 415, 422)
    filters = [
        _query("app", _NAME, "only this app"),
        _query("environment", _NAME, "only this environment"),
        _query("actor", {"type": "string"}, "only events this actor caused"),
        _query(
            "type",
            {"type": "string"},
            "only this event type (`PromotionApproved` or `Target.PromotionApproved`)",
        ),
    ]
    return {
        "/healthz": {
            "get": _op(
                "healthz",
                "Liveness",
                "health",
                _ok(200, "Health", "the process answers"),
                secured=False,
            )
        },
        "/readyz": {
            "get": _op(
                "readyz",
                "Readiness: database, migrations, projection lag; background tasks shown",
                "health",
                {
                    **_ok(200, "Ready", "ready"),
                    "503": {
                        "description": "not ready",
                        "content": {JSON: {"schema": ref("Ready")}},
                    },
                },
                secured=False,
            )
        },
        "/openapi.json": {
            "get": _op(
                "openapi",
                "This document",
                "health",
                {
                    "200": {
                        "description": "the OpenAPI document",
                        "content": {JSON: {"schema": OBJ}},
                    }
                },
                secured=False,
            )
        },
        "/metrics": {
            "get": _op(
                "metrics",
                "Prometheus metrics (text exposition format); no token, as Prometheus scrapes",
                "health",
                {
                    "200": {
                        "description": "every metric",
                        "content": {"text/plain": {"schema": STR}},
                    }
                },
                secured=False,
            )
        },
        "/apps": {
            "get": _op(
                "list_apps",
                "Every app's pipeline",
                "apps",
                {**_ok(200, "AppList", "apps"), **_problems(503)},
            )
        },
        "/apps/{app}": {
            "get": _op(
                "get_app",
                "One app's pipeline: desired/applied release, health, sync, in flight",
                "apps",
                {**_ok(200, "App", "the app"), **_problems(404, 503)},
                parameters=[_path("app", "the app's name")],
            )
        },
        "/apps/{app}/releases": {
            "get": _op(
                "list_releases",
                "An app's releases, newest first",
                "apps",
                {**_ok(200, "ReleasePage", "a page"), **_problems(404, 422, 503)},
                parameters=[
                    _path("app", "the app's name"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
                    _query(
                        "before",
                        {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                        "release number to page back from (`next_before`)",
                    ),
                ],
            )
        },
        "/apps/{app}/releases/{sha}": {
            "get": _op(
                "get_release",
                "A release's lineage: where it went, when, approvals, rollbacks",
                "apps",
                {**_ok(200, "Lineage", "the lineage"), **_problems(404, 503)},
                parameters=[_path("app", "the app's name"), _path("sha", "the commit SHA")],
            )
        },
        "/promotions": {
            "post": _op(
                "create_promotion",
                "Ask for a release to run in an environment",
                "promotions",
                {**_ok(202, "Promotion", "accepted", **_LOCATION), **write},
                requestBody=_body("PromotionCreate"),
                parameters=[_IDEMPOTENCY],
            )
        },
        "/promotions/{promotion_id}": {
            "get": _op(
                "get_promotion",
                "One promotion",
                "promotions",
                {**_ok(200, "Promotion", "the promotion"), **_problems(404)},
                parameters=[_path("promotion_id", "the promotion's id")],
            )
        },
        **{
            f"/promotions/{{promotion_id}}/{verb}": {
                "post": _op(
                    f"{verb}_promotion",
                    summary,
                    "promotions",
                    {**_ok(200, "Promotion", "the promotion after the decision"), **decision},
                    requestBody=_body(model, required=False),
                    parameters=[_path("promotion_id", "the promotion's id"), _IDEMPOTENCY],
                )
            }
            for verb, summary, model in (
                ("approve", "Approve (someone other than the requester)", "ApprovalBody"),
                ("reject", "Reject a promotion awaiting approval", "DecisionBody"),
                ("cancel", "Cancel a promotion before it starts", "DecisionBody"),
            )
        },
        "/rollbacks": {
            "post": _op(
                "create_rollback",
                "Roll back to a release verified before",
                "promotions",
                {**_ok(202, "Promotion", "accepted", **_LOCATION), **write},
                requestBody=_body("RollbackCreate"),
                parameters=[_IDEMPOTENCY],
            )
        },
        "/events": {
            "get": _op(
                "list_events",
                "The audit log, newest first; NDJSON with `Accept: application/x-ndjson`",
                "audit",
                {
                    "200": {
                        "description": "a page of events (or all of them as NDJSON)",
                        "content": {
                            JSON: {"schema": ref("EventPage")},
                            "application/x-ndjson": {"schema": OBJ},
                        },
                    },
                    **_problems(422, 503),
                },
                parameters=[
                    *filters,
                    _query(
                        "since", {"type": "string", "format": "date-time"}, "recorded at or after"
                    ),
                    _query("until", {"type": "string", "format": "date-time"}, "recorded before"),
                    _query("before", _POSITION, "page back from this position"),
                    _query("after", _POSITION, "only events after this position"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                ],
            )
        },
        "/events/stream": {
            "get": _op(
                "stream_events",
                "The log tailed live as server-sent events",
                "audit",
                {
                    "200": {
                        "description": "an endless text/event-stream: each message's id is the "
                        "event's position, its event the type, its data an `Event`",
                        "content": {"text/event-stream": {"schema": STR}},
                    },
                    **_problems(422, 503),
                },
                parameters=[
                    *filters,
                    _query(
                        "after",
                        _POSITION,
                        "start after this position (default: now); `Last-Event-ID` also works",
                    ),
                ],
            )
        },
        "/state": {
            "get": _op(
                "state",
                "Time travel: what ran where at a moment",
                "time-travel",
                {**_ok(200, "State", "the state"), **_problems(422, 503)},
                parameters=[_query("as_of", _MOMENT, "default: now")],
            )
        },
        "/state/diff": {
            "get": _op(
                "state_diff",
                "What changed between two moments",
                "time-travel",
                {**_ok(200, "StateDiff", "the changes"), **_problems(422, 503)},
                parameters=[
                    {**_query("from", _MOMENT, "the earlier moment"), "required": True},
                    _query("to", _MOMENT, "the later moment (default: now)"),
                ],
            )
        },
        "/audit/verify": {
            "get": _op(
                "audit_verify",
                "Recompute the hash chain",
                "audit",
                _ok(200, "AuditReport", "the report"),
            )
        },
        "/health/explain": {
            "post": _op(
                "explain_health",
                "The health verdict of each object, its message and the rule that gave it",
                "health",
                {
                    **_ok(200, "HealthExplanation", "one row per object"),
                    **_problems(400, 403, 413, 415, 422),
                },
                requestBody=_body("HealthExplain"),
            )
        },
        "/admin/replay": {
            "post": _op(
                "start_replay",
                "Rebuild projections in the background",
                "admin",
                {
                    **_ok(202, "Job", "the job", headers=_LOCATION["headers"]),
                    **_problems(400, 403, 409, 413, 415, 422, 503),
                },
                requestBody=_body("ReplayCreate", required=False),
                parameters=[_IDEMPOTENCY],
            )
        },
        "/admin/replay/{job_id}": {
            "get": _op(
                "get_replay",
                "A replay job",
                "admin",
                {**_ok(200, "Job", "the job"), **_problems(403, 404)},
                parameters=[_path("job_id", "the job's id")],
            )
        },
        "/admin/projections": {
            "get": _op(
                "projections",
                "Projection checkpoints and lag",
                "admin",
                {**_ok(200, "ProjectionStatus", "the status"), **_problems(403, 503)},
            )
        },
        "/admin/config/reload": {
            "post": _op(
                "reload_config",
                "Reload the environments config of this process (all or nothing)",
                "admin",
                {**_ok(200, "ConfigReload", "what changed"), **_problems(403, 422, 503)},
            )
        },
        "/webhooks/git": {
            "post": _op(
                "git_webhook",
                "A GitHub or GitLab push: poll the repository now",
                "git",
                {
                    **_ok(202, "WebhookResult", "the apps woken"),
                    **_problems(400, 401, 404, 413, 415, 422),
                },
                secured=False,
                parameters=[
                    {
                        "name": "X-Hub-Signature-256",
                        "in": "header",
                        "required": False,
                        "schema": STR,
                        "description": "GitHub: sha256=<HMAC of the body>",
                    },
                    {
                        "name": "X-Gitlab-Token",
                        "in": "header",
                        "required": False,
                        "schema": STR,
                        "description": "GitLab: the shared secret",
                    },
                ],
                requestBody={"required": True, "content": {JSON: {"schema": OBJ}}},
            )
        },
    }


_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "a retry with the same key gets the first answer; nothing is written twice",
}


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document."""
    components: dict[str, Any] = dict(RESPONSE_SCHEMAS)
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
            "releases. Errors are RFC 9457 problem details naming the offending `field`. "
            "Bodies are UTF-8 `application/json` (else 415) of at most "
            f"{MAX_BODY_BYTES // 1024} KiB (else 413), with objects and arrays nested at most "
            f"{MAX_DEPTH} deep (else 400); text holding NUL or a lone surrogate is refused (422); "
            "a query parameter an operation does not declare is a 400.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@cache
def query_parameters() -> dict[str, frozenset[str]]:
    """The query parameters each operation declares, by operation id (the route's name)."""
    return {
        op["operationId"]: frozenset(
            p["name"] for p in op.get("parameters", []) if p["in"] == "query"
        )
        for item in document()["paths"].values()
        for op in item.values()
    }


@public
async def serve(request: web.Request) -> web.Response:
    """GET /openapi.json."""
    return json_response(document())
