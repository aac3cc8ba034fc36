"""`/api/docs`: the API reference, rendered on the server from the OpenAPI document."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from api.openapi import document
from console.pages import page, render

_METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any] | None) -> str | None:
    if not schema:
        return None
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return f"list of {name}" if "items" in schema else name
    return str(schema.get("type", "object"))


def operations(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The document's operations by tag, in path order, each as the page lists it."""
    base = doc["servers"][0]["url"]
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for path, item in doc["paths"].items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {})
            responses = []
            for status, answer in op["responses"].items():
                content = answer.get("content") or {}
                first: dict[str, Any] = next(iter(content.values()), {})
                responses.append(
                    {
                        "status": status,
                        "description": answer.get("description", ""),
                        "schema": _schema_name(first.get("schema")),
                    }
                )
            by_tag.setdefault(op["tags"][0], []).append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": base + path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "public": op.get("security") == [],
                    "parameters": op.get("parameters", []),
                    "body": _schema_name(body.get("schema")),
                    "responses": responses,
                }
            )
    return by_tag


@page(session=False)
async def api_docs(request: web.Request) -> web.StreamResponse:
    """Every operation of the API with its parameters, body and answers; the schemas."""
    doc = document(request.app.router.routes())
    schemas = {
        name: orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode()
        for name, schema in doc["components"]["schemas"].items()
    }
    return render(
        request,
        "api_docs.html",
        {"info": doc["info"], "tags": operations(doc), "schemas": schemas},
    )
