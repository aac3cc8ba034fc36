"""The OpenAPI 3.1 document, generated from the routes and the contracts their views declare.

Where it sits: served at /api/v1/openapi.json. Each route's view declares its contract
(`api.operation.Operation`: request model, answers, parameters, its own refusals); what
the middleware makes of every operation is added here from the modules that do it
(`api.guard`, `api.params`, `api.idempotency`, `api.bodies`, `api.errors`). Schemas are
pydantic's JSON Schema of the request models (`api.schemas`) and the response models
(`api.responses`), so the document cannot drift from validation; schemathesis checks
the server against it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from api import idempotency, params, responses, schemas
from api.bodies import BODY_REFUSALS, MAX_DEPTH
from api.config import MAX_BODY_BYTES
from api.errors import DATABASE_AWAY, PROBLEM_JSON, Refusal
from api.guard import AUTH_REFUSALS, is_public, public
from api.operation import JSON, Answer, Header, Operation, json_answer, operation_of
from api.render import json_response

PREFIX = "/api/v1"
_REF = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
_PARAGRAPH_BREAK = re.compile(r"(?<!\n)\n(?!\n)")
_DESCRIPTION = (
    "Promote, approve, roll back, audit and time-travel GitOps releases. Errors are "
    "RFC 9457 problem details naming the offending `field`. Bodies are UTF-8 "
    f"`application/json` (else 415) of at most {MAX_BODY_BYTES // 1024} KiB (else 413), "
    f"with objects and arrays nested at most {MAX_DEPTH} deep (else 400); text holding NUL "
    "or a lone surrogate is refused (422); a query parameter an operation does not declare "
    "is a 400. A retried POST with the same `Idempotency-Key` gets the first answer."
)

#: (method, path, name, view) of each route
RouteKey = tuple[str, str, str, Callable[..., Any]]


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema without a title on every property (the name says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _keyed(method: str, view: Callable[..., Any]) -> bool:
    """True when `idempotency_middleware` takes an Idempotency-Key: authenticated POSTs."""
    return method == "POST" and not is_public(view)


def _refusals(method: str, path: str, view: Callable[..., Any], op: Operation) -> list[Refusal]:
    """Every refusal the operation can answer with: the middleware's, then its own."""
    found = [params.UNKNOWN_PARAMETER]
    if not is_public(view):
        found += [*AUTH_REFUSALS, DATABASE_AWAY]
    if _keyed(method, view):
        found += idempotency.KEY_REFUSALS
    if op.query:
        found.append(params.INVALID_PARAMETER)
    if _PATH_PARAMETER.search(path):
        found.append(params.NO_SUCH_THING)
    if op.body is not None:
        found += BODY_REFUSALS
        if isinstance(op.body, type) and issubclass(op.body, schemas.Body):
            found.append(schemas.INVALID_BODY)
    return [*found, *op.refusals]


def _headers(op: Operation, method: str, view: Callable[..., Any]) -> list[Header]:
    return [*op.headers, idempotency.KEY] if _keyed(method, view) else list(op.headers)


class _Builder:
    """Collects the types the document needs a schema of, then renders it in one pass."""

    def __init__(self) -> None:
        self._types: dict[tuple[Any, JsonSchemaMode], TypeAdapter[Any]] = {}
        self._schemas: dict[tuple[Any, JsonSchemaMode], Any] = {}
        self.components: dict[str, Any] = {}

    def need(self, kind: Any, mode: JsonSchemaMode) -> None:
        """Remember a type whose schema the document uses."""
        key = (kind, mode)
        if key not in self._types:
            self._types[key] = TypeAdapter(kind)

    def resolve(self) -> None:
        """pydantic's schemas of every type, with shared definitions as components."""
        inputs = [(key, key[1], adapter) for key, adapter in self._types.items()]
        self._schemas, definitions = TypeAdapter.json_schemas(
            inputs, ref_template=_REF, schema_generator=_Schemas
        )
        self.components = dict(definitions.get("$defs", {}))

    def schema(self, kind: Any, mode: JsonSchemaMode = "serialization") -> Any:
        """The schema of a type remembered before `resolve`."""
        return self._schemas[((kind, mode), mode)]

    @staticmethod
    def inline(kind: Any) -> Any:
        """The schema of a parameter's type (plain, so no shared definitions)."""
        return TypeAdapter(kind).json_schema(schema_generator=_Schemas)


def _parameters(
    builder: _Builder, path: str, op: Operation, headers: Sequence[Header]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": params.PATH_PARAMETERS[name],
        }
        for name in _PATH_PARAMETER.findall(path)
    ]
    found += [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "schema": builder.inline(q.schema),
            "description": q.description,
        }
        for q in op.query
    ]
    found += [
        {
            "name": h.name,
            "in": "header",
            "required": False,
            "schema": builder.inline(h.schema),
            "description": h.description,
        }
        for h in headers
    ]
    return found


def _answer(builder: _Builder, answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": answer.description,
        "content": {media: {"schema": builder.schema(t)} for media, t in answer.content.items()},
    }
    for media, item in answer.items.items():
        out["content"][media]["x-itemSchema"] = builder.schema(item)
    if answer.headers:
        out["headers"] = {
            name: {"schema": {"type": "string"}, "description": text}
            for name, text in answer.headers.items()
        }
    return out


def _refused(builder: _Builder, refusals: Sequence[Refusal]) -> dict[str, Any]:
    by_status: dict[int, list[Refusal]] = {}
    for refusal in refusals:
        by_status.setdefault(refusal.status, []).append(refusal)
    out: dict[str, Any] = {}
    for status, found in sorted(by_status.items()):
        whys = list(dict.fromkeys(r.why for r in found))
        text = "; ".join(whys)
        entry: dict[str, Any] = {
            "description": text[:1].upper() + text[1:],
            "content": {PROBLEM_JSON: {"schema": builder.schema(responses.Problem)}},
        }
        if any(r.retry_after for r in found):
            entry["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer", "minimum": 1},
                    "description": "seconds to wait before trying again",
                }
            }
        out[str(status)] = entry
    return out


def _operation(builder: _Builder, route: RouteKey) -> dict[str, Any]:
    method, path, name, view = route
    op = operation_of(view)
    assert op is not None
    summary, _, description = (inspect.getdoc(view) or name).partition("\n")
    answers = {str(a.status): _answer(builder, a) for a in op.answers}
    refused = _refused(builder, _refusals(method, path, view, op))
    clash = answers.keys() & refused.keys()
    if clash:
        raise ValueError(f"{name}: status {sorted(clash)} is both an answer and a refusal")
    out: dict[str, Any] = {
        "operationId": name,
        "summary": summary.strip(),
        "tags": [op.tag],
        "security": [] if is_public(view) else [{"bearer": []}],
        "parameters": _parameters(builder, path, op, _headers(op, method, view)),
        "responses": {**answers, **refused},
    }
    if description.strip():  # paragraphs kept, the docstring's line breaks not
        out["description"] = _PARAGRAPH_BREAK.sub(" ", description.strip())
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {JSON: {"schema": builder.schema(op.body, "validation")}},
        }
    return out


def _collect(builder: _Builder, routes: Sequence[RouteKey]) -> None:
    builder.need(responses.Problem, "serialization")
    for method, _, name, view in routes:
        op = operation_of(view)
        if op is None:
            raise ValueError(f"route {name} ({method}) declares no Operation")
        for answer in op.answers:
            for kind in [*answer.content.values(), *answer.items.values()]:
                builder.need(kind, "serialization")
        if op.body is not None:
            builder.need(op.body, "validation")


@cache
def _document(routes: tuple[RouteKey, ...]) -> dict[str, Any]:
    builder = _Builder()
    _collect(builder, routes)
    builder.resolve()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        method, path, _, _ = route
        paths.setdefault(path.removeprefix(PREFIX), {})[method.lower()] = _operation(builder, route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "baton", "version": "1", "description": _DESCRIPTION},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(builder.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def document(routes: Iterable[web.AbstractRoute]) -> dict[str, Any]:
    """The OpenAPI document of the API's `routes` (HEAD, which aiohttp adds to each GET,
    and the pages of the console beside the API left out)."""
    keys = tuple(
        (r.method, r.resource.canonical, r.name or "", r.handler)
        for r in routes
        if r.method != "HEAD"
        and r.resource is not None
        and r.resource.canonical.startswith(PREFIX + "/")
    )
    return _document(keys)


@public
@Operation(
    tag="health",
    answers=[json_answer(dict[str, Any], "the OpenAPI document")],
)
async def serve(request: web.Request) -> web.Response:
    """This document."""
    return json_response(document(request.app.router.routes()))
