"""A minimal OpenAPI v3 document per group/version, enough for kubectl's checks.

kubectl reads `/openapi/v3` before `apply`, `diff` and friends to learn whether the server
accepts the `fieldValidation` query parameter on PATCH (server-side validation). Without
an answer it falls back to client-side validation, which needs full schemas and fails.
So each resource gets its paths with their parameters and a generic object schema; field
schemas are not emulated (see the report: `kubectl explain` shows no fields).
"""

from __future__ import annotations

from typing import Any

from kubesim.resources import Registry, ResourceType

_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
_READ_PARAMS = ("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
                "resourceVersionMatch", "watch", "allowWatchBookmarks", "sendInitialEvents",
                "timeoutSeconds", "pretty")


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
    return [{"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
            for n in names]


def _schema_name(rt: ResourceType) -> str:
    group = rt.group or "core"
    return f"io.k8s.api.{group}.{rt.version}.{rt.kind}"


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
    schemas: dict[str, Any] = {}
    for rt in registry.resources(group, version):
        scope = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else (
            f"{base}/{rt.plural}")
        paths[scope] = _operations(rt, item=False)
        paths[f"{scope}/{{name}}"] = _operations(rt, item=True)
        schemas[_schema_name(rt)] = {
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
        "components": {"schemas": schemas},
    }
