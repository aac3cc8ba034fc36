"""Discovery documents: /version, /api, /apis, group/version resource lists.

Served by `handlers.py` from the cluster's `Registry`. Both the legacy documents
(APIVersions, APIGroupList, APIGroup, APIResourceList) and the aggregated form
(`apidiscovery.k8s.io/v2` APIGroupDiscoveryList) that kubectl asks for first, so one
request answers all of discovery instead of one per group/version.
"""

from __future__ import annotations

from typing import Any

from kubesim.resources import Registry, ResourceType

KUBE_VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0-kubesim"}
AGGREGATED_MIME = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
}


def version_info() -> dict[str, Any]:
    """/version."""
    return {
        **KUBE_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """/api: the legacy core group."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    """/apis: every named group."""
    groups = [_group(name, versions) for name, versions in registry.groups() if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> dict[str, Any] | None:
    """/apis/<group>, or None when the group is not served."""
    for group, versions in registry.groups():
        if group == name and name:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}
    return None


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any]:
    """/api/v1 or /apis/<group>/<version>: resources with their subresources."""
    resources: list[dict[str, Any]] = []
    for rt in registry.resources(group, version):
        resources.append(rt.discovery_entry())
        for sub in sorted(rt.subresources):
            resources.append(
                {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": "Scale" if sub == "scale" else rt.kind,
                    "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
                }
            )
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": kind,
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in sorted(rt.subresources):
        sub_kind = (
            {"group": "autoscaling", "version": "v1", "kind": "Scale"} if sub == "scale" else kind
        )
        subs.append(
            {
                "subresource": sub,
                "responseKind": sub_kind,
                "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(registry: Registry, *, core: bool) -> dict[str, Any]:
    """The aggregated discovery document of /api (core) or /apis (named groups)."""
    items = []
    for name, versions in registry.groups():
        if bool(name) == core:
            continue
        items.append(
            {
                "metadata": {"name": name, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [
                            _aggregated_resource(rt) for rt in registry.resources(name, v)
                        ],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def wants_aggregated(accept: str) -> bool:
    """Whether the client's Accept header offers the aggregated v2 discovery format."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")}
        if "g=apidiscovery.k8s.io" in params and "v=v2" in params:
            return True
    return False
