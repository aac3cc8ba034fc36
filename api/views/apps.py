"""Apps and releases: the pipeline view and each release's lineage.

Where it sits: read side. Everything comes from the read models through `api.reads`.
"""

from __future__ import annotations

from aiohttp import web

from api import params, reads
from api.auth import Role
from api.errors import not_found
from api.guard import require
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import App, AppList, Lineage, ReleasePage

PREFIX = "/api/v1"
LIMIT = params.Integer(name="limit", description="page size", low=1, high=200, default=20)
BEFORE = params.Integer(
    name="before",
    description="release number to page back from (`next_before`)",
    low=1,
    high=params.MAX_NUMBER,
)


@Operation(tag="apps", answers=[json_answer(AppList, "apps")])
async def list_apps(request: web.Request) -> web.Response:
    """Every app's pipeline, with each environment's state."""
    require(request, Role.VIEWER)
    return json_response({"items": await reads.all_apps(request.app)})


@Operation(tag="apps", answers=[json_answer(App, "the app")])
async def get_app(request: web.Request) -> web.Response:
    """One app's pipeline: desired/applied release, health, sync, in flight."""
    require(request, Role.VIEWER)
    name = params.path_part(request, "app", params.NAME, "app")
    found = await reads.one_app(request.app, name)
    if found is None:
        raise not_found("app", f"there is no app {name}")
    return json_response(found)


@Operation(tag="apps", answers=[json_answer(ReleasePage, "a page")], query=[LIMIT, BEFORE])
async def list_releases(request: web.Request) -> web.Response:
    """An app's releases, newest first, paged by release number."""
    require(request, Role.VIEWER)
    name = params.path_part(request, "app", params.NAME, "app")
    limit = LIMIT.read(request)
    before = BEFORE.read(request)
    assert limit is not None
    page = await reads.releases(request.app, name, limit=limit, before=before)
    if page is None:
        raise not_found("app", f"there is no app {name}")
    return json_response(page)


@Operation(tag="apps", answers=[json_answer(Lineage, "the lineage")])
async def get_release(request: web.Request) -> web.Response:
    """A release's lineage: where it went, when, approvals, rollbacks."""
    require(request, Role.VIEWER)
    name = params.path_part(request, "app", params.NAME, "app")
    sha = params.path_part(request, "sha", params.SHA, "release")
    found = await reads.lineage(request.app, name, sha)
    if found is None:
        raise not_found("release", f"app {name} has no release {sha}")
    return json_response(found)
