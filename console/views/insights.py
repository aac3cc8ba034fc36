"""The insights page: the four DORA keys per app and environment over a window, each a
headline number and a small chart drawn on the server.

Where it sits: a console view over the API's read (`api.reads.dora`) and its window
rules (`api.views.insights.window_of`): the same numbers `/api/v1/insights` answers.
The charts are `console.charts` SVG, marked safe here (their text is escaped there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from api import reads
from api.auth import Role
from api.errors import not_found
from api.guard import require
from api.views.insights import window_of
from console import forms
from console.charts import bar_chart, sparkline
from console.pages import page, render
from engine.domain.policy import format_duration
from projections.dora import Bucket

#: the windows offered as links: name → length
PRESETS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90)}
#: up to this many buckets a key is drawn as bars (one labelled bar each); more, as a line
_MOST_BARS = 14


@dataclass(frozen=True, kw_only=True)
class Key:
    """One key of one target: its headline, what it counts, and its chart."""

    name: str
    headline: str
    what: str
    chart: Markup


@dataclass(frozen=True, kw_only=True)
class Insight:
    """One app's environment: its four keys."""

    app: str
    environment: str
    keys: list[Key]


def _chart(points: Sequence[tuple[str, float | None]], *, title: str, unit: str) -> Markup:
    if len(points) <= _MOST_BARS:
        return Markup(bar_chart(points, title=title, unit=unit))
    values = [v for _, v in points]
    return Markup(sparkline(values, title=title, unit=unit, width=320, height=64))


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def _series(
    buckets: list[dict[str, Any]], bucket: Bucket, value: Callable[[dict[str, Any]], Any]
) -> list[tuple[str, float | None]]:
    label = "%m-%d" if bucket is Bucket.DAY else "w%V"
    return [(b["start"].strftime(label), value(b)) for b in buckets]


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(timedelta(seconds=round(seconds)))


def keys_of(item: dict[str, Any], bucket: Bucket) -> list[Key]:
    """The four keys of one target, each with its chart."""
    buckets = item["buckets"]
    d, lead, cf, rs = (
        item["deployments"],
        item["lead_time"],
        item["change_failure"],
        item["restore"],
    )

    def series(value: Callable[[dict[str, Any]], Any]) -> list[tuple[str, float | None]]:
        return _series(buckets, bucket, value)

    rate = "—" if cf["rate"] is None else f"{cf['rate'] * 100:.0f}%"
    return [
        Key(
            name="Deployment frequency",
            headline=str(d["count"]),
            what=f"deployments, {d['per_day']:.2f} a day",
            chart=_chart(series(lambda b: b["deployments"]), title="Deployments", unit=""),
        ),
        Key(
            name="Lead time",
            headline=_duration(lead["p50_seconds"]),
            what=f"median commit → verified, {lead['count']} measured",
            chart=_chart(
                series(lambda b: _minutes(b["lead_time_p50_seconds"])),
                title="Lead time p50",
                unit="min",
            ),
        ),
        Key(
            name="Change failure rate",
            headline=rate,
            what=f"{cf['failed']} of {cf['started']} changes failed",
            chart=_chart(
                series(
                    lambda b: (
                        None if b["change_failure_rate"] is None else b["change_failure_rate"] * 100
                    )
                ),
                title="Change failure rate",
                unit="%",
            ),
        ),
        Key(
            name="Time to restore",
            headline=_duration(rs["p50_seconds"]),
            what=f"median, {rs['restored']} of {rs['incidents']} incidents restored",
            chart=_chart(
                series(lambda b: _minutes(b["restore_p50_seconds"])),
                title="Time to restore p50",
                unit="min",
            ),
        ),
    ]


def _window_query(request: web.Request) -> dict[str, str]:
    """The form as the API's window rules read it: empty fields left out, a preset as
    the `since` before `until` (default: now)."""
    query = {
        name: value
        for name in ("since", "until", "bucket")
        if (value := request.query.get(name, "").strip())
    }
    preset = forms.choice(request, "range", PRESETS)
    if preset is not None and "since" not in query:
        until = forms.time(request, "until") or datetime.now(UTC)
        query["until"] = until.isoformat()
        query["since"] = (until - PRESETS[preset]).isoformat()
    return query


@page()
async def insights(request: web.Request) -> web.StreamResponse:
    """The four keys of every target (or of one app, one environment) over a window."""
    require(request, Role.VIEWER)
    app, environment = forms.text(request, "app"), forms.text(request, "environment")
    window = window_of(request.clone(rel_url=request.rel_url.with_query(_window_query(request))))
    items = await reads.dora(request.app, name=app, environment=environment, window=window)
    if items is None:
        what = f"app {app}" if environment is None else f"environment {environment}"
        raise not_found("app" if environment is None else "environment", f"there is no {what}")
    form = {
        "app": app or "",
        "environment": environment or "",
        "since": forms.local(window.since),
        "until": forms.local(window.until),
        "bucket": window.bucket.value,
    }
    context: dict[str, Any] = {
        "nav": "insights",
        "window": window,
        "form": form,
        "buckets": [b.value for b in Bucket],
        "presets": {
            name: "/insights?"
            + urlencode({"app": app or "", "environment": environment or "", "range": name})
            for name in PRESETS
        },
        "targets": [
            Insight(app=i["app"], environment=i["environment"], keys=keys_of(i, window.bucket))
            for i in items
        ],
    }
    return render(request, "insights.html", context)
