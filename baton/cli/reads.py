"""`baton status`, `baton history`, `baton diff`: what a running baton shows, as tables.

Where it sits: clients of the REST API (`baton.cli.remote`): the pipeline of an app, its
audit trail, and what changed between two points in time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from baton.cli.console import make_console
from baton.cli.remote import call, short, with_server

if TYPE_CHECKING:
    from baton.client import Client
    from baton.contexts import Server


@click.command()
@click.argument("app", required=False)
@with_server
def status(app: str | None, server: Server) -> None:
    """The pipeline of APP (or of every app) as a table."""
    from rich.table import Table

    async def work(client: Client) -> list[dict[str, Any]]:
        if app:
            return [await client.get(f"/apps/{app}")]
        return list((await client.get("/apps"))["items"])

    for pipeline in call(work, server):
        table = Table(title=f"{pipeline['name']}")
        for column in (
            "environment",
            "desired",
            "applied",
            "health",
            "sync",
            "in flight",
            "since",
            "by",
        ):
            table.add_column(column)
        for env in pipeline["environments"]:
            flight = env.get("in_flight")
            table.add_row(
                env["environment"],
                short(env["desired_release"]),
                short(env["applied_release"]),
                env["health"],
                env["sync_status"],
                f"{flight['id'][:8]} {flight['phase']}" if flight else "-",
                str(env.get("last_changed_at") or "-")[:19],
                env.get("last_actor") or "-",
            )
        make_console().print(table)


@click.command()
@click.argument("app")
@click.option("--env", "environment", default=None)
@click.option("--since", default=None, help="An ISO time, e.g. 2026-11-26T10:00:00Z.")
@click.option("--limit", default=50, show_default=True)
@with_server
def history(
    app: str, environment: str | None, since: str | None, limit: int, server: Server
) -> None:
    """Who did what, where and when, with trace ids: the audit trail of an app."""
    from rich.table import Table

    page = call(
        lambda c: c.get("/events", app=app, environment=environment, since=since, limit=limit),
        server,
    )
    table = Table(title=f"history of {app}")
    for column in ("position", "time", "env", "actor", "action", "summary", "trace"):
        table.add_column(column, overflow="fold")
    for e in reversed(page["items"]):
        table.add_row(
            str(e["position"]),
            str(e["recorded_at"])[:19],
            e.get("environment") or "-",
            e["actor"],
            e["action"],
            e["summary"],
            (e.get("trace_id") or "-")[:16],
        )
    make_console().print(table)


@click.command()
@click.argument("app")
@click.option("--from-time", "start", required=True, help="ISO time or log position.")
@click.option("--to-time", "end", required=True, help="ISO time or log position.")
@with_server
def diff(app: str, start: str, end: str, server: Server) -> None:
    """What changed in APP's environments between two points in time."""
    from rich.table import Table

    result = call(lambda c: c.get("/state/diff", **{"from": start, "to": end}), server)
    changes = [c for c in result["changes"] if c["app"] == app]
    if not changes:
        make_console().print(f"no change in {app} between {start} and {end}")
        return
    table = Table(title=f"{app}: {start} → {end}")
    for column in ("environment", "field", "from", "to"):
        table.add_column(column)
    for c in changes:
        table.add_row(c["environment"], c["field"], short(c["from"]), short(c["to"]))
    make_console().print(table)
