"""HTTP handling of one API request against one cluster.

`server.py` finds the cluster; this module parses path, query and body, calls the verbs
in `operations.py` (or `watch.py`, `discovery.py`) and renders the answer. Errors of any
layer are `ApiError`s and leave here as `Status` bodies.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import yaml
from aiohttp import web

from kubesim import discovery, errors, openapi, protobuf
from kubesim.cluster import Cluster
from kubesim.listing import ListOptions
from kubesim.observers import Arrival
from kubesim.operations import WriteOptions
from kubesim.patches import PatchType
from kubesim.routing import Route, Target, resolve
from kubesim.selectors import Selector
from kubesim.tables import table, wants_table
from kubesim.validation import FieldValidation, check_unknown_fields
from kubesim.watch import WatchRequest, serve_watch

log = logging.getLogger(__name__)
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A JSON answer (compact, as the real server's)."""
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers={**_JSON_HEADERS, **(headers or {})},
    )


def error_response(error: errors.ApiError) -> web.Response:
    """A `Status` answer."""
    return json_response(error.status(), error.code, error.headers)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "")


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    if raw.startswith(protobuf.MAGIC) or "protobuf" in request.content_type:
        return protobuf.decode(raw)  # kubectl's typed commands (`kubectl create ...`)
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return yaml.load(raw, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding request body: {exc}") from None


def _manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager", "")
    if manager:
        return manager
    # Like the API server: the User-Agent up to its first "/" names an unnamed manager.
    return request.headers.get("User-Agent", "unknown").split("/", 1)[0][:128]


async def handle(
    request: web.Request,
    cluster: Cluster,
    path: str,
    prefix: str,
) -> web.StreamResponse:
    """Answer one request addressed to a cluster."""
    try:
        route = resolve(cluster.registry, path)
        if cluster.observers:
            cluster.observers.tell(_arrival(request, cluster, route, path))
        await cluster.faults.before_request(
            discovery=route.target.is_discovery, method=request.method
        )
        if route.target.is_discovery:
            return _discovery(request, cluster, route, prefix)
        watching = "watch" in request.query and _truthy(request.query["watch"])
        if watching and request.method == "GET" and route.target is Target.COLLECTION:
            return await serve_watch(request, cluster, _watch_request(request, route))
        return await _resource(request, cluster, route)
    except errors.ApiError as error:
        return error_response(error)
    except Exception as exc:  # a bug here must still answer like a server: 500 + Status
        log.exception("kubesim failed on %s %s", request.method, request.path_qs)
        return error_response(
            errors.ApiError(
                500, errors.StatusReason.INTERNAL_ERROR, f"Internal error occurred: {exc!r}"
            )
        )


def _arrival(request: web.Request, cluster: Cluster, route: Route, path: str) -> Arrival:
    return Arrival(
        cluster=cluster.name,
        method=request.method,
        path="/" + path.lstrip("/"),
        content_type=request.headers.get("Content-Type", ""),
        resource=route.rt.plural if route.rt else "",
        namespace=route.namespace,
        name=route.name,
    )


def _discovery(
    request: web.Request,
    cluster: Cluster,
    route: Route,
    prefix: str,
) -> web.Response:
    registry = cluster.registry
    accept = request.headers.get("Accept", "")
    match route.target:
        case Target.VERSION:
            return json_response(discovery.version_info())
        case Target.HEALTH:
            return web.Response(text="ok", content_type="text/plain")
        case Target.CORE_VERSIONS | Target.GROUPS if discovery.wants_aggregated(accept):
            body = discovery.aggregated(registry, core=route.target is Target.CORE_VERSIONS)
            return web.Response(
                body=json.dumps(body).encode(), headers={"Content-Type": discovery.AGGREGATED_MIME}
            )
        case Target.CORE_VERSIONS:
            return json_response(discovery.api_versions(request.host))
        case Target.GROUPS:
            return json_response(discovery.api_group_list(registry))
        case Target.GROUP:
            group = discovery.api_group(registry, route.group)
            if group is None:
                raise errors.ApiError(
                    404,
                    errors.StatusReason.NOT_FOUND,
                    "the server could not find the requested resource",
                )
            return json_response(group)
        case Target.RESOURCES:
            return json_response(discovery.resource_list(registry, route.group, route.version))
        case Target.OPENAPI:
            return _openapi(cluster, route.path, prefix)
    raise errors.ApiError(
        404, errors.StatusReason.NOT_FOUND, "the server could not find the requested resource"
    )


def _openapi(cluster: Cluster, path: str, prefix: str) -> web.Response:
    """OpenAPI v3 only; v2 is a 404, which kubectl tolerates once v3 answers."""
    parts = path.split("/")
    doc: dict[str, Any] | None = None
    if parts == ["v3"]:
        doc = openapi.root(cluster.registry, prefix)
    elif len(parts) == 3 and parts[:2] == ["v3", "api"]:
        doc = openapi.group_version(cluster.registry, "", parts[2])
    elif len(parts) == 4 and parts[:2] == ["v3", "apis"]:
        doc = openapi.group_version(cluster.registry, parts[2], parts[3])
    if doc is None:
        raise errors.ApiError(
            404, errors.StatusReason.NOT_FOUND, "the server could not find the requested resource"
        )
    return json_response(doc)


def _watch_request(request: web.Request, route: Route) -> WatchRequest:
    assert route.rt is not None
    q = request.query
    timeout = q.get("timeoutSeconds")
    return WatchRequest(
        rt=route.rt,
        namespace=route.namespace,
        selector=Selector.parse(q.get("labelSelector", ""), q.get("fieldSelector", "")),
        resource_version=q.get("resourceVersion", ""),
        timeout=float(_int_param(timeout)) if timeout else None,
        bookmarks=_truthy(q.get("allowWatchBookmarks", "false")),
        send_initial_events=_truthy(q.get("sendInitialEvents", "false")),
        table=q.get("includeObject", "Metadata")
        if wants_table(request.headers.get("Accept", ""))
        else None,
    )


def _int_param(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        raise errors.bad_request(f"invalid integer value {value!r}") from None


def _write_options(request: web.Request, route: Route) -> WriteOptions:
    q = request.query
    return WriteOptions(
        field_manager=_manager(request),
        dry_run="All" in q.getall("dryRun", []),
        force=_truthy(q.get("force", "false")),
        subresource=route.subresource,
    )


async def _checked(request: web.Request, route: Route, warnings: list[str]) -> Any:
    """The request body, with unknown fields refused or warned about per fieldValidation."""
    body = await _body(request)
    content_type = request.headers.get("Content-Type", "")
    if route.rt is not None and isinstance(body, dict) and "json-patch" not in content_type:
        mode = FieldValidation.parse(request.query.get("fieldValidation"))
        warnings += check_unknown_fields(route.rt, body, mode)
    return body


def _warned(response: web.Response, warnings: list[str]) -> web.Response:
    for warning in warnings:
        quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{quoted}"')
    return response


async def _resource(request: web.Request, cluster: Cluster, route: Route) -> web.Response:
    warnings: list[str] = []
    return _warned(await _resource_verbs(request, cluster, route, warnings), warnings)


def _verb(request: web.Request, route: Route) -> str:
    """The API verb of a request, as discovery lists verbs."""
    method = request.method
    if route.target is Target.COLLECTION:
        if method == "GET":
            return "watch" if "watch" in request.query else "list"
        return {"POST": "create", "DELETE": "deletecollection"}.get(method, method.lower())
    return {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )


async def _resource_verbs(
    request: web.Request, cluster: Cluster, route: Route, warnings: list[str]
) -> web.Response:
    assert route.rt is not None
    if not route.subresource and route.rt.verbs and _verb(request, route) not in route.rt.verbs:
        raise _not_allowed(request.method)
    if route.subresource == "scale":
        return await _scale(request, cluster, route)
    if route.subresource not in ("", "status"):
        # logs, exec, proxy, eviction, ...: there are no containers to reach
        raise errors.ApiError(
            405,
            errors.StatusReason.METHOD_NOT_ALLOWED,
            f"the {route.subresource} subresource is not emulated",
        )
    if route.target is Target.COLLECTION:
        return await _collection(request, cluster, route, warnings)
    return await _object(request, cluster, route, warnings)


async def _collection(
    request: web.Request, cluster: Cluster, route: Route, warnings: list[str]
) -> web.Response:
    """list, create, deletecollection."""
    rt = route.rt
    assert rt is not None
    if request.method == "GET":
        q = request.query
        opts = ListOptions(
            selector=Selector.parse(q.get("labelSelector", ""), q.get("fieldSelector", "")),
            limit=_int_param(q.get("limit")),
            continue_token=q.get("continue", ""),
        )
        listed = cluster.ops.list_objects(rt, route.namespace, opts)
        if wants_table(request.headers.get("Accept", "")):
            listed = table(
                rt.key,
                listed["items"],
                rv=listed["metadata"]["resourceVersion"],
                include_object=q.get("includeObject", "Metadata"),
            ) | {"metadata": listed["metadata"]}
        return json_response(listed)
    if request.method == "POST" and rt.key in _REVIEWS:
        return json_response(_review(rt.key, await _body(request)), 201)
    if request.method == "POST":
        created = cluster.ops.create(
            rt,
            route.namespace or "",
            await _checked(request, route, warnings),
            _write_options(request, route),
        )
        return json_response(created, 201)
    if request.method == "DELETE":
        return json_response(_delete_collection(request, cluster, route))
    raise _not_allowed(request.method)


async def _object(
    request: web.Request, cluster: Cluster, route: Route, warnings: list[str]
) -> web.Response:
    """get, update, patch (and apply), delete."""
    rt, ops, method = route.rt, cluster.ops, request.method
    assert rt is not None
    namespace, name = route.namespace or "", route.name
    if method == "GET":
        obj = ops.get(rt, namespace, name)
        if wants_table(request.headers.get("Accept", "")):
            return json_response(
                table(
                    rt.key,
                    [obj],
                    rv=obj["metadata"]["resourceVersion"],
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        return json_response(obj)
    if method == "PUT":
        return json_response(
            ops.replace(
                rt,
                namespace,
                name,
                await _checked(request, route, warnings),
                _write_options(request, route),
            )
        )
    if method == "PATCH":
        patch_type = PatchType.from_header(request.headers.get("Content-Type", ""))
        if patch_type.is_apply and not request.query.get("fieldManager"):
            raise errors.ApiError(
                422,
                errors.StatusReason.INVALID,
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        patched, was_created = ops.patch(
            rt,
            namespace,
            name,
            patch_type,
            await _checked(request, route, warnings),
            _write_options(request, route),
        )
        return json_response(patched, 201 if was_created else 200)
    if method == "DELETE":
        body = await _body(request) or {}
        if not isinstance(body, dict) or not isinstance(body.get("preconditions") or {}, dict):
            raise errors.bad_request("the body of a delete must be a DeleteOptions object")
        dry_run = "All" in request.query.getall("dryRun", []) or "All" in (body.get("dryRun") or [])
        return json_response(
            ops.delete(
                rt, namespace, name, dry_run=dry_run, preconditions=body.get("preconditions")
            )
        )
    raise _not_allowed(method)


# Reviews are questions, not objects: answered at once and never stored. There is no
# authorization here, so every question is answered "allowed", as for a cluster admin.
_REVIEWS = frozenset(
    {
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authentication.k8s.io", "tokenreviews"),
    }
)
_ADMIN = {"username": "kubesim-admin", "groups": ["system:masters", "system:authenticated"]}


def _review(table: tuple[str, str], body: Any) -> dict[str, Any]:
    review = dict(body) if isinstance(body, dict) else {}
    review.setdefault("metadata", {})
    if table[1] == "selfsubjectreviews":
        review["status"] = {"userInfo": _ADMIN}
    elif table[1] == "tokenreviews":
        review["status"] = {"authenticated": True, "user": _ADMIN}
    elif table[1] == "selfsubjectrulesreviews":
        review["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    else:
        review["status"] = {"allowed": True, "reason": "kubesim authorizes every request"}
    return review


def _delete_collection(request: web.Request, cluster: Cluster, route: Route) -> dict[str, Any]:
    assert route.rt is not None
    q = request.query
    opts = ListOptions(
        selector=Selector.parse(q.get("labelSelector", ""), q.get("fieldSelector", ""))
    )
    listed = cluster.ops.list_objects(route.rt, route.namespace, opts)
    for item in listed["items"]:
        meta = item["metadata"]
        cluster.ops.delete(route.rt, meta.get("namespace", ""), meta["name"])
    return listed


async def _scale(request: web.Request, cluster: Cluster, route: Route) -> web.Response:
    """The scale subresource, as autoscaling/v1 Scale."""
    assert route.rt is not None
    rt, namespace = route.rt, route.namespace or ""
    obj = cluster.ops.get(rt, namespace, route.name)
    if request.method in ("PUT", "PATCH"):
        body = await _body(request) or {}
        spec = body.get("spec") if isinstance(body, dict) else None
        replicas = spec.get("replicas") if isinstance(spec, dict) else None
        if type(replicas) is not int:
            raise errors.bad_request("spec.replicas must be an integer")
        opts = WriteOptions(field_manager=_manager(request))
        obj, _ = cluster.ops.patch(
            rt, namespace, route.name, PatchType.MERGE, {"spec": {"replicas": replicas}}, opts
        )
    elif request.method != "GET":
        raise _not_allowed(request.method)
    meta = obj["metadata"]
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return json_response(
        {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
            },
        }
    )


def _not_allowed(method: str) -> errors.ApiError:
    return errors.ApiError(
        405,
        errors.StatusReason.METHOD_NOT_ALLOWED,
        f"the server does not allow this method on the requested resource ({method})",
    )
