"""Apps and releases: the pipeline view and each release's lineage.

Where it sits: read side. Everything comes from the read models through `api.reads`.
"""

from __future__ import annotations

from aiohttp import web

from api import params, reads
from api.auth import Role
from api.errors import not_found
from api.guard import require
from api.render import json_response

PREFIX = "/api/v1"


async def list_apps(request: web.Request) -> web.Response:
    """GET /apps: every app with each environment's state."""
    require(request, Role.VIEWER)
    return json_response({"items": await reads.all_apps(request.app)})


async def get_app(request: web.Request) -> web.Response:
    """GET /apps/{app}: one app's pipeline."""
    require(request, Role.VIEWER)
    name = params.path_part(request, "app", params.NAME, "app")
    found = await reads.one_app(request.app, name)
    if found is None:
        raise not_found("app", f"there is no app {name}")
    return json_response(found)


async def list_releases(request: web.Request) -> web.Response:
    """GET /apps/{app}/releases?limit=&before=: newest first, paged by release number."""
    require(request, Role.VIEWER)
    name = params.path_part(request, "app", params.NAME, "app")
    limit = params.integer(request, "limit", default=20, low=1, high=200)
    before = params.integer(request, "before", low=1, high=params.MAX_NUMBER)
    assert limit is not None
    page = await reads.releases(request.app, name, limit=limit, before=before)
    if page is None:
        raise not_found("app", f"there is no app {name}")
    return json_response(page)


async def get_release(request: web.Request) -> web.Response:
    """GET /apps/{app}/releases/{sha}: where the release went, when, and with whose yes."""
    require(request, Role.VIEWER)
    name = params.path_part(request, "app", params.NAME, "app")
    sha = params.path_part(request, "sha", params.SHA, "release")
    found = await reads.lineage(request.app, name, sha)
    if found is None:
        raise not_found("release", f"app {name} has no release {sha}")
    return json_response(found)
