"""Multi-document YAML files → :class:`RenderedObject` values with ``file:line`` sources.

Where it sits: plain-YAML rendering reads every manifest file through here, and so does
the output of ``kubectl kustomize``. Timestamps stay strings (as the API server sees
them), so every object is JSON and hashes the same everywhere.
"""

from __future__ import annotations

from typing import Any

import yaml

from engine.render.objects import RenderedObject, RenderError


class _ManifestLoader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type."""


_ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_all(text: str) -> list[Any]:
    """Every YAML (or JSON) document of ``text`` as plain data, timestamps as strings."""
    return list(yaml.load_all(text, Loader=_ManifestLoader))


def parse_objects(text: bytes | str, *, file: str) -> list[RenderedObject]:
    """Every object in the YAML documents of ``file``; RenderError on the first mistake."""
    try:
        source = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError as exc:
        raise RenderError(file=file, line=0, reason=f"not UTF-8 text: {exc}") from None
    loader = _ManifestLoader(source)
    out: list[RenderedObject] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            data = loader.construct_document(node)
            out.extend(_objects_of(data, file=file, line=line))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RenderError(
            file=file, line=mark.line + 1 if mark else 0, reason=f"bad YAML: {exc.problem}"
        ) from None
    except yaml.YAMLError as exc:
        raise RenderError(file=file, line=0, reason=f"bad YAML: {exc}") from None
    finally:
        loader.dispose()
    return out


def _objects_of(data: Any, *, file: str, line: int) -> list[RenderedObject]:
    """The object(s) of one document: nothing for an empty one, the items of a ``List``."""
    if data is None:
        return []
    if not isinstance(data, dict):
        raise RenderError(file=file, line=line, reason="document is not a mapping")
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        return [o for item in data["items"] for o in _objects_of(item, file=file, line=line)]
    return [to_object(data, file=file, line=line)]


def to_object(data: dict[str, Any], *, file: str, line: int) -> RenderedObject:
    """Check the identifying fields of one object and wrap it."""
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    missing = [
        key
        for key, value in (
            ("apiVersion", data.get("apiVersion")),
            ("kind", data.get("kind")),
            ("metadata.name", name),
        )
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise RenderError(file=file, line=line, reason=f"object without {', '.join(missing)}")
    assert isinstance(meta, dict) and isinstance(name, str)
    namespace = meta.get("namespace")
    return RenderedObject(
        api_version=data["apiVersion"],
        kind=data["kind"],
        namespace=namespace if isinstance(namespace, str) and namespace else None,
        name=name,
        body=data,
        source=f"{file}:{line}",
    )
