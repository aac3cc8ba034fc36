"""The OpenAPI v3 document of each group/version, as kubectl reads it.

kubectl reads `/openapi/v3` before `apply`, `diff` and friends to learn whether the server
accepts the `fieldValidation` query parameter on PATCH (server-side validation). Without
an answer it falls back to client-side validation, which needs full schemas and fails.
So each resource gets its paths with their parameters; built-in kinds get field schemas
(from `schemas.py`, with the list-merge markers client-side apply reads), which is what
`kubectl explain` shows; custom resources get an open object schema.
"""

from __future__ import annotations

from typing import Any

from kubesim import schemas
from kubesim.resources import LIST_MAP_KEYS, PORT_KEYS, SET_LISTS, Registry, ResourceType

_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
_READ_PARAMS = (
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "resourceVersionMatch",
    "watch",
    "allowWatchBookmarks",
    "sendInitialEvents",
    "timeoutSeconds",
    "pretty",
)


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root(registry: Registry, prefix: str) -> dict[str, Any]:
    """/openapi/v3: where each group/version's document lives (URLs carry the prefix)."""
    paths = {}
    for group, versions in registry.groups():
        for version in versions:
            gv = _gv_path(group, version)
            paths[gv] = {
                "serverRelativeURL": f"{prefix}/openapi/v3/{gv}?hash=G{registry.generation}"
            }
    return {"paths": paths}


def _params(names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True} for n in names
    ]


def _schema_name(rt: ResourceType) -> str:
    model = None if rt.custom else schemas.model_for(rt.group, rt.version, rt.kind)
    return model or f"io.k8s.api.{rt.group or 'core'}.{rt.version}.{rt.kind}"


_REF = "#/components/schemas/"


def _list_extensions(json_name: str, item_model: str) -> dict[str, Any]:
    """How a list merges: the markers kubectl reads for client-side apply and patches."""
    if json_name in SET_LISTS:
        return {"x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"}
    item_fields = schemas.fields(item_model)
    keys: tuple[str, ...] | None = None
    if json_name == "ports":
        keys = next((k for marker, k in PORT_KEYS if marker in item_fields), None)
    elif json_name in LIST_MAP_KEYS:
        keys = LIST_MAP_KEYS[json_name]
    if keys is None:
        return {"x-kubernetes-list-type": "atomic"}
    return {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": list(keys),
        "x-kubernetes-patch-merge-key": keys[0],
        "x-kubernetes-patch-strategy": "merge",
    }


def _model_schemas(roots: list[str]) -> dict[str, Any]:
    """Component schemas of models and every model they refer to."""
    out: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        properties = {}
        for json_name, kind in schemas.fields(name).items():
            prop = schemas.openapi_schema(kind, _REF)
            if text := schemas.description(name, json_name):
                prop["description"] = text
            item = kind[5:-1] if kind.startswith("list[") else ""
            if item:
                prop.update(_list_extensions(json_name, item))
            properties[json_name] = prop
            todo += [m for m in schemas.referenced(kind) if m not in out]
        schema: dict[str, Any] = {"type": "object", "description": name, "properties": properties}
        if name == "V1LabelSelector":
            schema["x-kubernetes-map-type"] = "atomic"
        out[name] = schema
    return out


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _operations(rt: ResourceType, *, item: bool) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
    base = {"x-kubernetes-group-version-kind": _gvk(rt), "responses": ok}
    if not item:
        return {
            "get": {**base, "x-kubernetes-action": "list", "parameters": _params(_READ_PARAMS)},
            "post": {**base, "x-kubernetes-action": "post", "parameters": _params(_WRITE_PARAMS)},
        }
    return {
        "get": {**base, "x-kubernetes-action": "get", "parameters": []},
        "put": {**base, "x-kubernetes-action": "put", "parameters": _params(_WRITE_PARAMS)},
        "patch": {**base, "x-kubernetes-action": "patch", "parameters": _params(_WRITE_PARAMS)},
        "delete": {**base, "x-kubernetes-action": "delete", "parameters": _params(("dryRun",))},
    }


def group_version(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """/openapi/v3/apis/<group>/<version>, or None when not served."""
    if not registry.has_group_version(group, version):
        return None
    base = "/" + _gv_path(group, version)
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    models: list[str] = []
    for rt in registry.resources(group, version):
        scope = (
            f"{base}/namespaces/{{namespace}}/{rt.plural}"
            if rt.namespaced
            else (f"{base}/{rt.plural}")
        )
        paths[scope] = _operations(rt, item=False)
        paths[f"{scope}/{{name}}"] = _operations(rt, item=True)
        name = _schema_name(rt)
        if not rt.custom and schemas.model(name) is not None:
            models.append(name)
            continue
        components[name] = {
            "type": "object",
            "description": f"{rt.kind} (fields are not described by this emulator)",
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [_gvk(rt)],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {
            "schemas": {**components, **_with_gvk(_model_schemas(models), registry, group, version)}
        },
    }


def _with_gvk(
    found: dict[str, Any], registry: Registry, group: str, version: str
) -> dict[str, Any]:
    """Mark the schemas of served kinds, which is how kubectl finds a kind's schema."""
    for rt in registry.resources(group, version):
        name = _schema_name(rt)
        if name in found:
            found[name]["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return found
