"""The time travel page: every app's environments as they stood at a moment of the log,
and what changed between two moments.

Where it sits: a console view over the API's reads (`api.reads.state`, `diff`,
`events_page` for the log's span), the same answers as `/api/v1/state` and
`/api/v1/state/diff`. A moment is a log position or a time (UTC); the form works without
script: its slider and number both name a position, and the one the user moved wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web

from api import params, reads
from api.auth import Role
from api.guard import require
from api.keys import PIPELINES
from console import forms
from console.pages import page, render
from engine.domain.enums import SyncStatus

_EVERYTHING = reads.EventFilter()
_TICK = timedelta(microseconds=1)


@dataclass(kw_only=True)
class Target:
    """One app's environment at the moment."""

    environment: str
    desired: str | None = None
    applied: str | None = None
    applied_since: str | None = None
    desired_by: str | None = None
    sync: str = SyncStatus.UNKNOWN.value
    health: str | None = None  # known for now only: the history keeps releases


@dataclass(kw_only=True)
class AppState:
    """One app's environments, in its pipeline's order where it is known."""

    name: str
    targets: list[Target] = field(default_factory=list)


def chosen(request: web.Request) -> params.Moment | None:
    """The moment the form asks for (None: now). A position the user changed (the slider
    or the number, against the `shown` one) wins over the time field."""
    shown = forms.position(request, "shown")
    typed = forms.position(request, "position")
    slid = forms.position(request, "slider")
    at = forms.time(request, "at")
    moved = [p for p in (typed, slid) if p is not None and p != shown]
    if moved:
        return params.Moment(position=moved[0])
    if at is not None:
        return params.Moment(at=at)
    if typed is not None:
        return params.Moment(position=typed)
    return None


async def last_event(app: web.Application, moment: params.Moment | None) -> dict[str, Any] | None:
    """The last event of the log at `moment` (None: the newest), from the audit's rows."""
    before, events = None, _EVERYTHING
    if moment is not None and moment.position is not None:
        before = moment.position + 1
    elif moment is not None and moment.at is not None:
        events = reads.EventFilter(until=moment.at + _TICK)
    found = await reads.events_page(app, events, limit=1, before=before, after=None)
    return found["items"][0] if found["items"] else None


def _sync(desired: str | None, applied: str | None) -> str:
    if desired is None and applied is None:
        return SyncStatus.UNKNOWN.value
    return (SyncStatus.SYNCED if desired == applied else SyncStatus.OUT_OF_SYNC).value


async def states(
    app: web.Application, moment: params.Moment | None, *, now: bool
) -> list[AppState]:
    """Every app's targets as of `moment`; with `now`, each one's health too."""
    rows = orjson.loads(await reads.state(app, moment))["targets"]
    names = await reads.app_names(app)
    names = sorted(set(names) | {r["app"] for r in rows})
    by_target = {(r["app"], r["environment"]): r for r in rows}
    current = {
        (a["name"], e["environment"]): e
        for a in (await reads.some_apps(app, names) if now else [])
        for e in a["environments"]
    }
    pipelines = await app[PIPELINES].get_many(names)
    out = []
    for name in names:
        known = pipelines.get(name)
        order = [s.name for s in known[0].environments] if known else []
        order += sorted({env for a, env in by_target if a == name} - set(order))
        shown = AppState(name=name)
        for env in order:
            row = by_target.get((name, env), {})
            desired, applied = row.get("desired_release"), row.get("applied_release")
            live = current.get((name, env))
            shown.targets.append(
                Target(
                    environment=env,
                    desired=desired,
                    applied=applied,
                    applied_since=row.get("applied_since"),
                    desired_by=row.get("desired_by"),
                    sync=live["sync_status"] if live else _sync(desired, applied),
                    health=live["health"] if live else None,
                )
            )
        out.append(shown)
    return out


def _changes(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The diff's changes, one entry per target: each field before → after."""
    targets: dict[tuple[str, str], dict[str, Any]] = {}
    for change in found["changes"]:
        key = (change["app"], change["environment"])
        entry = targets.setdefault(key, {"app": key[0], "environment": key[1], "fields": []})
        entry["fields"].append(change)
    return list(targets.values())


@page()
async def time_travel(request: web.Request) -> web.StreamResponse:
    """Every target as of a moment, and the changes between two moments."""
    require(request, Role.VIEWER)
    moment = chosen(request)
    start, end = forms.moment(request, "from"), forms.moment(request, "to")
    if end is not None and start is None:
        raise params.invalid("from", "required with to: a time or a log position")
    first = await reads.events_page(request.app, _EVERYTHING, limit=1, before=None, after=0)
    head = await last_event(request.app, None)
    head_position = head["position"] if head else 0
    at = await last_event(request.app, moment) if moment is not None else head
    now = moment is None or (moment.position is not None and moment.position >= head_position)
    context: dict[str, Any] = {
        "nav": "time-travel",
        "first": first["items"][0] if first["items"] else None,
        "head": head,
        "head_position": head_position,
        "moment": moment,
        "now": now,
        "position": at["position"] if at else 0,
        "at": at,
        "at_local": forms.local(moment.at) if moment and moment.at else "",
        "apps": await states(request.app, moment, now=now),
        "from": request.query.get("from", ""),
        "to": request.query.get("to", ""),
        "diff": _changes(await reads.diff(request.app, start, end)) if start else None,
    }
    return render(request, "time_travel.html", context)
