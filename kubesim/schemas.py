"""Field schemas of the built-in kinds, read from kubernetes-asyncio's generated models.

`validation.py` walks request bodies against them to find unknown fields (what
`fieldValidation=Strict` refuses), and `openapi.py` describes kinds with them so that
`kubectl explain` has fields to show. The models come from an OpenAPI document of a recent
Kubernetes release; a kind without a model (a CRD, a type newer than the client) is not
checked.
"""

from __future__ import annotations

import functools
import importlib
import re
from types import ModuleType
from typing import Any

_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(str, (.+)\)$")
_SCALARS = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "float": "number",
    "datetime": "string",
    "date": "string",
    "object": "object",
}


@functools.cache
def _models() -> ModuleType | None:
    # Imported on first use: the generated package takes a few hundred milliseconds.
    try:
        return importlib.import_module("kubernetes_asyncio.client.models")
    except ImportError:
        return None


@functools.cache
def model(name: str) -> Any | None:
    """A generated model class by name (`V1Deployment`), or None."""
    models = _models()
    found = getattr(models, name, None) if models is not None else None
    return found if hasattr(found, "openapi_types") else None


@functools.cache
def model_for(group: str, version: str, kind: str) -> str | None:
    """The model name of a kind: `V1Deployment`, or a group-prefixed `CoreV1Event`."""
    prefix = "".join(part.capitalize() for part in (group.split(".")[0] or "core").split("-"))
    base = f"{version.capitalize()}{kind}"
    for name in (f"{prefix}{base}", base):
        found = model(name)
        if found is not None and "kind" in found.attribute_map.values():
            return name
    return None


@functools.cache
def fields(name: str) -> dict[str, str]:
    """JSON field name -> type expression (`V1PodSpec`, `list[V1Container]`, `str`).

    Cached and shared: callers must not change the dict.
    """
    found = model(name)
    if found is None:
        return {}
    return {found.attribute_map[attr]: kind for attr, kind in found.openapi_types.items()}


def description(name: str, json_name: str) -> str:
    """A field's description, from the generated property's docstring ("" if none)."""
    found = model(name)
    if found is None:
        return ""
    attr = next((a for a, j in found.attribute_map.items() if j == json_name), None)
    doc = getattr(getattr(found, attr, None), "__doc__", None) if attr else None
    if not doc:
        return ""
    # The docstring: a "Gets the ..." line, the description, then ":return:" lines.
    parts = [p.strip() for p in doc.split("\n\n")]
    body = [p for p in parts[1:] if p and not p.startswith(":return:")]
    return body[0].replace("  # noqa: E501", "").strip() if body else ""


def unknown_fields(name: str, value: Any, path: str = "") -> list[str]:
    """Paths of fields in `value` that the model `name` does not declare."""
    if not isinstance(value, dict):
        return []
    declared = fields(name)
    if not declared:
        return []
    out = []
    for key, child in value.items():
        if key.startswith("$"):
            continue  # a strategic merge patch directive ($setElementOrder/..., $patch)
        where = f"{path}.{key}" if path else key
        kind = declared.get(key)
        if kind is None:
            out.append(where)
        else:
            out += _unknown_in(kind, child, where)
    return out


def _unknown_in(kind: str, value: Any, path: str) -> list[str]:
    if m := _LIST.match(kind):
        if not isinstance(value, list):
            return []
        return [
            p for i, item in enumerate(value) for p in _unknown_in(m.group(1), item, f"{path}[{i}]")
        ]
    if m := _DICT.match(kind):
        if not isinstance(value, dict):
            return []
        return [
            p for k, item in value.items() for p in _unknown_in(m.group(1), item, f"{path}.{k}")
        ]
    if kind in _SCALARS:
        return []
    return unknown_fields(kind, value, path)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "datetime": (str,),
    "date": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}
_JSON_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
}


def type_errors(kind: str, value: Any, path: str = "") -> list[str]:
    """Where `value` lacks the JSON type `kind` asks for, worded as Go's decoder words it."""
    if value is None or kind == "object":
        return []  # null is "unset" for every field; `object` takes anything
    if m := _LIST.match(kind):
        if isinstance(value, list):
            return [
                e
                for i, item in enumerate(value)
                for e in type_errors(m.group(1), item, f"{path}[{i}]")
            ]
    elif m := _DICT.match(kind):
        if isinstance(value, dict):
            return [
                e for k, item in value.items() for e in type_errors(m.group(1), item, f"{path}.{k}")
            ]
    elif kind in _JSON_TYPES:
        # bool is an int to Python, never to JSON
        if isinstance(value, _JSON_TYPES[kind]) and (kind == "bool") == isinstance(value, bool):
            return []
    elif isinstance(value, dict):
        declared = fields(kind)
        return [
            e
            for key, item in value.items()
            if key in declared
            for e in type_errors(declared[key], item, f"{path}.{key}" if path else key)
        ]
    got = _JSON_NAMES.get(type(value), type(value).__name__)
    want = _SCALARS.get(kind, kind)
    return [f"cannot unmarshal {got} into Go struct field {path or '.'} of type {want}"]


def referenced(kind: str) -> list[str]:
    """The model names a type expression refers to."""
    if m := _LIST.match(kind) or _DICT.match(kind):
        return referenced(m.group(1))
    return [] if kind in _SCALARS else [kind]


def openapi_schema(kind: str, ref: str) -> dict[str, Any]:
    """An OpenAPI v3 schema for a type expression; models become `$ref`s via `ref`."""
    if m := _LIST.match(kind):
        return {"type": "array", "items": openapi_schema(m.group(1), ref)}
    if m := _DICT.match(kind):
        return {"type": "object", "additionalProperties": openapi_schema(m.group(1), ref)}
    if kind in _SCALARS:
        if kind == "object":
            return {"x-kubernetes-preserve-unknown-fields": True}
        return {"type": _SCALARS[kind]}
    return {"allOf": [{"$ref": ref + kind}]}
