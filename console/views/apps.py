"""The app page: one app's pipeline as a graph, its releases by environment, its history.

Where it sits: beside the pipelines page, drawing the same read models (`api.reads`): the
targets as the pipelines' cells show them, a page of releases with where each went (one
query per page), and each environment's recent promotions. The graph and the state of
each environment are a fragment the page fetches again when the app changes on the live
stream. The Promote and Roll back forms lead to their previews (`console.views.changes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web
from markupsafe import Markup

from api import reads
from api.auth import Principal, Role
from api.errors import Problem, not_found
from api.guard import require
from api.keys import PIPELINES
from console.cells import Cell
from console.graph import Node, layout, svg
from console.pages import page, render
from console.views.pipelines import rows
from engine.domain.enums import PromotionPhase

#: releases per page of the matrix
RELEASES_PER_PAGE = 20
#: promotions shown per environment
HISTORY = 5


class Mark(StrEnum):
    """What became of a release in an environment, as its matrix cell says it."""

    RAN = "ran"  # promoted there; not verified (yet)
    VERIFIED = "verified"
    FAILED = "failed"
    STOPPED = "stopped"  # rejected, cancelled or superseded before it ran
    ROLLED_BACK = "rolled back"


_STOPPED = {PromotionPhase.REJECTED, PromotionPhase.CANCELLED, PromotionPhase.SUPERSEDED}


def mark(row: Mapping[str, Any]) -> Mark:
    """A lineage row's mark: rolled back over verified over failed over ran."""
    if row.get("rolled_back_at") is not None:
        return Mark.ROLLED_BACK
    if row.get("verified_at") is not None:
        return Mark.VERIFIED
    phase = row.get("phase")
    if phase == PromotionPhase.FAILED:
        return Mark.FAILED
    if phase in _STOPPED:
        return Mark.STOPPED
    return Mark.RAN


@dataclass(frozen=True, kw_only=True)
class Environment:
    """One environment of the app: its cell, what ran before, its recent promotions."""

    cell: Cell
    previous: Mapping[str, Any] | None
    verified: Sequence[Mapping[str, Any]]
    history: Sequence[Mapping[str, Any]]
    can_promote: bool


def graph(app: str, cells: Sequence[Cell]) -> Markup:
    """The pipeline's graph as an SVG, each box toned as its pipelines cell."""
    nodes = [
        Node(
            name=c.environment,
            upstream=c.upstream,
            tone=c.tone,
            lines=(
                f"{c.short} #{c.release_number}" if c.release else "nothing running",
                f"{c.health} · {c.sync}",
            ),
        )
        for c in cells
    ]
    return svg(layout(nodes), title=f"{app} pipeline: {_summary(cells)}", key=f"graph-{app}")


def _summary(cells: Sequence[Cell]) -> str:
    """The graph's text alternative: each environment, its upstream and its state."""
    parts = []
    for c in cells:
        runs = f"runs {c.short}" if c.release else "runs nothing"
        after = f" after {c.upstream}" if c.upstream else ""
        parts.append(f"{c.environment}{after} {runs}, {c.health}, {c.sync}")
    return "; ".join(parts)


async def _cells(request: web.Request, name: str) -> list[Cell]:
    cells = (await rows(request.app, [name]))[0].cells
    # an app is known by its targets or, before it has any, by its registration
    if not cells and await request.app[PIPELINES].get(name) is None:
        raise not_found("app", f"there is no app {name}")
    return cells


def _environments(
    cells: Sequence[Cell], history: Mapping[str, Any], caller: Principal
) -> list[Environment]:
    out = []
    for c in cells:
        verified = history["verified"].get(c.environment, [])
        previous = next((v for v in verified if v["sha"] != c.release), None)
        out.append(
            Environment(
                cell=c,
                previous=previous,
                verified=verified,
                history=history["promotions"].get(c.environment, []),
                can_promote=caller.allows(Role.PROMOTER, c.environment),
            )
        )
    return out


def _before(request: web.Request) -> int | None:
    value = request.query.get("before", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise Problem(422, "validation-error", "Not a release number", field="before")
    return int(value)


@page()
async def app_page(request: web.Request) -> web.StreamResponse:
    """One app: its graph, its releases by environment, and each environment's story."""
    caller = require(request, Role.VIEWER)
    name = request.match_info["app"]
    cells = await _cells(request, name)
    before = _before(request)
    matrix = await reads.release_matrix(request.app, name, limit=RELEASES_PER_PAGE, before=before)
    assert matrix is not None  # the app is known
    newest = (
        matrix
        if before is None
        else await reads.releases(request.app, name, limit=RELEASES_PER_PAGE, before=None)
    )
    history = await reads.app_history(request.app, name, per_environment=HISTORY)
    marks = {
        r["sha"]: {row["environment"]: mark(row) for row in r["lineage"]} for r in matrix["items"]
    }
    context = {
        "app": name,
        "cells": cells,
        "graph": graph(name, cells),
        "environments": _environments(cells, history, caller),
        "releases": matrix["items"],
        "marks": marks,
        "next_before": matrix["next_before"],
        "paged": before is not None,
        "choices": (newest or {"items": []})["items"],
        "can_promote": caller.allows(Role.PROMOTER),
    }
    return render(request, "app.html", context)


@page()
async def app_pipeline(request: web.Request) -> web.StreamResponse:
    """The graph and the environments' state: what a live app page fetches again."""
    caller = require(request, Role.VIEWER)
    name = request.match_info["app"]
    cells = await _cells(request, name)
    history = await reads.app_history(request.app, name, per_environment=HISTORY)
    context = {
        "app": name,
        "graph": graph(name, cells),
        "environments": _environments(cells, history, caller),
    }
    return render(request, "app_pipeline.html", context)
