"""The pipelines page: every app as a row of its environments, in pipeline order.

Apps are paged by name (a cursor: the last name shown) and filtered by a part of their
name; an environment filter keeps the cells of that environment. Rows follow the live
stream: each row is also a fragment the page fetches again when its app changes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from api import reads
from api.auth import Role
from api.guard import require
from api.keys import PIPELINES
from console.cells import Cell, cell
from console.keys import CONSOLE
from console.pages import page, render


@dataclass(frozen=True, kw_only=True)
class Row:
    """One app's pipeline."""

    app: str
    cells: list[Cell]
    #: the query naming this row among `/pipelines/rows`' (what a live page asks again)
    param: str


async def rows(app: web.Application, names: list[str], environment: str | None = None) -> list[Row]:
    """The pipeline rows of the apps `names` (only `environment`'s cell when given)."""
    apps = await reads.some_apps(app, names)
    pipelines = await app[PIPELINES].get_many(names)
    running = [
        (a["name"], e["applied_release"])
        for a in apps
        for e in a["environments"]
        if e.get("applied_release")
    ]
    in_flight = [
        e["in_flight"]["id"] for a in apps for e in a["environments"] if e.get("in_flight")
    ]
    subjects = await reads.release_subjects(app, running) if running else {}
    promotions = await reads.promotions_by_id(app, in_flight) if in_flight else {}
    now = datetime.now(UTC)
    out = []
    for found in apps:
        known = pipelines.get(found["name"])
        specs = {s.name: s for s in known[0].environments} if known else {}
        cells = [
            cell(
                env,
                specs.get(env["environment"]),
                subjects=subjects,
                promotion=promotions.get(env["in_flight"]["id"]) if env.get("in_flight") else None,
                app=found["name"],
                now=now,
            )
            for env in found["environments"]
            if environment is None or env["environment"] == environment
        ]
        out.append(Row(app=found["name"], cells=cells, param=urlencode({"app": found["name"]})))
    return out


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value or None


@page()
async def pipelines(request: web.Request) -> web.StreamResponse:
    """Every app's pipeline, a page of apps at a time."""
    require(request, Role.VIEWER)
    wanted, environment = _text(request, "app"), _text(request, "environment")
    after = _text(request, "after")
    names = await reads.app_names(request.app)
    if wanted is not None:
        names = [n for n in names if wanted.lower() in n.lower()]
    size = request.app[CONSOLE].apps_per_page
    start = bisect.bisect_right(names, after) if after else 0
    shown = names[start : start + size]
    more = start + size < len(names)
    context: dict[str, Any] = {
        "rows": await rows(request.app, shown, environment),
        "filter_app": wanted or "",
        "filter_environment": environment or "",
        "first": start + 1,
        "last": start + len(shown),
        "total": len(names),
        "next_after": shown[-1] if more and shown else None,
        "paged": after is not None,
    }
    return render(request, "pipelines.html", context)


@page()
async def pipeline_rows(request: web.Request) -> web.StreamResponse:
    """The rows of the apps named by `app` (repeated): what a live page fetches again."""
    require(request, Role.VIEWER)
    names = sorted(set(request.query.getall("app", [])))[:200]
    environment = _text(request, "environment")
    found = await rows(request.app, names, environment)
    context = {"rows": found, "filter_environment": environment or ""}
    return render(request, "pipeline_rows.html", context)
