"""URL paths of the Kubernetes API, parsed into what a request addresses.

`handlers.py` calls `resolve()` on the path below a cluster's prefix and dispatches on
the result: a discovery document, or a resource route (collection, object, subresource).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kubesim import errors
from kubesim.resources import Registry, ResourceType


class Target(StrEnum):
    """What a path addresses."""

    VERSION = "version"
    HEALTH = "health"  # /healthz, /livez, /readyz
    CORE_VERSIONS = "core-versions"  # /api
    GROUPS = "groups"  # /apis
    GROUP = "group"  # /apis/<group>
    RESOURCES = "resources"  # /api/v1, /apis/<group>/<version>
    OPENAPI = "openapi"
    COLLECTION = "collection"
    OBJECT = "object"

    @property
    def is_discovery(self) -> bool:
        """Whether this is a discovery document rather than objects."""
        return self not in (Target.COLLECTION, Target.OBJECT)


@dataclass(frozen=True, slots=True)
class Route:
    """A parsed request path."""

    target: Target
    group: str = ""
    version: str = ""
    rt: ResourceType | None = None
    namespace: str | None = None  # None: cluster-scoped, or every namespace
    name: str = ""
    subresource: str = ""
    path: str = ""


def resolve(registry: Registry, path: str) -> Route:
    """Parse a path; 404 (as a Status) when nothing is served there."""
    parts = [p for p in path.split("/") if p]
    if parts == ["version"]:
        return Route(Target.VERSION)
    if parts and parts[0] in ("healthz", "livez", "readyz"):
        return Route(Target.HEALTH)
    if parts and parts[0] == "openapi":
        return Route(Target.OPENAPI, path="/".join(parts[1:]))
    if parts == ["api"]:
        return Route(Target.CORE_VERSIONS)
    if parts == ["apis"]:
        return Route(Target.GROUPS)
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) == 2 and parts[0] == "apis":
        return Route(Target.GROUP, group=parts[1])
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise _page_not_found(path)
    if not registry.has_group_version(group, version):
        raise _page_not_found(path)
    if not rest:
        return Route(Target.RESOURCES, group=group, version=version)
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise _page_not_found(path)
    rt = registry.lookup(group, version, rest[0])
    if rt is None:
        raise _page_not_found(path)
    if namespace is not None and not rt.namespaced:
        raise _page_not_found(path)
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in rt.subresources:
        raise _page_not_found(path)
    target = Target.OBJECT if name else Target.COLLECTION
    return Route(target, group, version, rt, namespace, name, sub)


def _page_not_found(path: str) -> errors.ApiError:
    return errors.ApiError(
        404,
        errors.StatusReason.NOT_FOUND,
        "the server could not find the requested resource",
        details={
            "causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]
        },
    )
