"""`baton promotions list`, `baton promotion get|wait`, `baton releases`: what is there, as
tables (`-o wide` for more columns, `-o json|yaml` for scripts; docs/cli-output.md).

Where it sits: clients of the REST API (`baton.cli.remote`) beside `baton status`.
Promotions come from `GET /promotions` (filtered by app, environment and state, in
pipeline order); a promotion id may be a unique prefix of at least 6 characters
(`baton.cli.remote.resolve_promotion`); releases from `GET /apps/{app}/releases`, with
where each runs and was last verified from the app's pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode, Failure, fail
from baton.cli.output import OUTPUT, age, is_data, print_data, rfc3339, when
from baton.cli.promotions import TIMEOUT
from baton.cli.remote import call, resolve_promotion, short, with_server

if TYPE_CHECKING:
    from datetime import timedelta

    from baton.client import Client
    from baton.contexts import Server

#: the states `--state` filters by (the server maps each to the phases it stands for)
STATES = ("pending", "awaiting-approval", "running", "done")


@click.group()
def promotions() -> None:
    """Promotions: `list` them."""


@promotions.command("list")
@click.option("--app", default=None, help="Only this app.")
@click.option("--env", "environment", default=None, help="Only this environment.")
@click.option(
    "--state",
    type=click.Choice(STATES),
    default=None,
    help="pending: not finished (awaiting approval or running); running: started or "
    "synced; done: finished, however it ended.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
@OUTPUT
@with_server
def list_promotions(
    app: str | None,
    environment: str | None,
    state: str | None,
    limit: int,
    output: str,
    server: Server,
) -> None:
    """The latest promotions, in pipeline order (newest first in each environment)."""
    from rich.table import Table

    page = call(
        lambda c: c.get("/promotions", app=app, environment=environment, state=state, limit=limit),
        server,
    )
    items: list[dict[str, Any]] = page["items"]
    if is_data(output):
        print_data({"items": items}, output)
        return
    if not items:
        make_console().print("no promotions")
        return
    wide = output == "wide"
    table = Table()
    columns = ["app", "environment", "id", "release", "state", "requested by", "age"]
    if wide:
        columns[-1:] = ["requested", "finished", "outcome", "reason", "trace"]
    for column in columns:
        table.add_column(column)
    for p in items:
        row = [
            p["app"],
            p["environment"],
            str(p["id"]) if wide else str(p["id"])[:8],
            str(p["release"]) if wide else short(p["release"]),
            p["phase"],
            p["requested_by"],
        ]
        if wide:
            row += [
                when(p.get("requested_at")),
                when(p.get("finished_at")),
                p.get("outcome") or "-",
                p.get("reason") or "-",
                p.get("trace_id") or "-",
            ]
        else:
            row.append(age(p.get("requested_at")))
        table.add_row(*row)
    make_console(unbounded=wide).print(table)


@click.group()
def promotion() -> None:
    """One promotion: `get` it, or `wait` for it to end."""


async def _promotion(client: Client, given: str) -> dict[str, Any]:
    """The promotion whose id is `given` or starts with it."""
    promotion_id = await resolve_promotion(client, given)
    found: dict[str, Any] = await client.get(f"/promotions/{promotion_id}")
    return found


@promotion.command("get")
@click.argument("promotion_id")
@OUTPUT
@with_server
def get_promotion(promotion_id: str, output: str, server: Server) -> None:
    """One promotion: its state, approvals and timeline. PROMOTION_ID may be a unique
    prefix of at least 6 characters."""

    p = call(lambda c: _promotion(c, promotion_id), server)
    if is_data(output):
        print_data(p, output)
        return
    console = make_console(unbounded=output == "wide")
    number = p.get("release_number")
    release = f"{short(p['release'])}" + (f" (#{number})" if number is not None else "")
    approvals = p.get("approvals") or []
    for label, value in (
        ("id", p["id"]),
        ("target", f"{p['app']}/{p['environment']}"),
        ("release", release),
        ("kind", p.get("kind", "-")),
        ("state", p["phase"] + (f" ({p['outcome']})" if p.get("outcome") else "")),
        ("requested by", p["requested_by"]),
        ("reason", p.get("reason") or "-"),
        ("approvals", f"{len(approvals)} of {p.get('approvals_required', 0)}"),
        *_wide_fields(p, output == "wide"),
    ):
        console.print(f"{label + ':':14}{value}", markup=False, highlight=False)
    console.print("timeline:", highlight=False)
    for at, what in _timeline(p):
        console.print(f"  {when(at)}  {what}", markup=False, highlight=False)


def _wide_fields(p: dict[str, Any], wide: bool) -> list[tuple[str, str]]:
    """What `-o wide` adds to a promotion: full releases, where from, overrides, trace."""
    if not wide:
        return []
    return [
        ("release sha", str(p["release"])),
        ("previous", str(p.get("previous_release") or "-")),
        ("from", str(p.get("from_environment") or "-")),
        ("overrides", ", ".join(p.get("overrides") or []) or "-"),
        ("trace", str(p.get("trace_id") or "-")),
    ]


@promotion.command("wait")
@click.argument("promotion_id")
@TIMEOUT
@with_server
def wait_promotion(promotion_id: str, timeout: timedelta | None, server: Server) -> int:
    """Follow a promotion until it ends, as `promote --wait` does (after a timeout, or from
    another terminal): exit 0 verified; 1 failed, rejected, cancelled, rolled back or timed
    out. PROMOTION_ID may be a unique prefix of at least 6 characters."""
    from baton.cli.promotions import wait_for

    return wait_for(call(lambda c: _promotion(c, promotion_id), server), server, timeout=timeout)


def _timeline(p: dict[str, Any]) -> list[tuple[str, str]]:
    """What happened to the promotion and when, oldest first."""
    steps: list[tuple[str, str]] = [(p["requested_at"], f"requested by {p['requested_by']}")]
    for a in p.get("approvals") or []:
        comment = f": {a['comment']}" if a.get("comment") else ""
        steps.append((a["at"], f"approved by {a['by']}{comment}"))
    for key, what in (("started_at", "started"), ("synced_at", "synced")):
        if p.get(key):
            steps.append((p[key], what))
    if p.get("finished_at"):
        steps.append((p["finished_at"], f"finished: {p.get('outcome') or p['phase']}"))
    return sorted((s for s in steps if rfc3339(s[0])), key=lambda s: str(rfc3339(s[0])))


@click.command()
@click.argument("app")
@click.option("--env", "environment", default=None, help="Where each runs: this environment only.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 200))
@OUTPUT
@with_server
def releases(app: str, environment: str | None, limit: int, output: str, server: Server) -> None:
    """APP's releases, newest first, with where each runs and was last verified."""
    from rich.table import Table

    async def work(client: Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        page = await client.get(f"/apps/{app}/releases", limit=limit)
        pipeline = (await client.get(f"/apps/{app}"))["environments"]
        return page["items"], pipeline

    items, pipeline = call(work, server)
    if environment is not None:
        pipeline = [e for e in pipeline if e["environment"] == environment]
        if not pipeline:
            fail(Failure(f"app {app} has no environment {environment}", None, ExitCode.REFUSED))
    rows = [
        {
            **r,
            "deployed_in": [e["environment"] for e in pipeline if e["applied_release"] == r["sha"]],
            "verified_in": [
                e["environment"] for e in pipeline if e["last_verified_release"] == r["sha"]
            ],
        }
        for r in items
    ]
    if is_data(output):
        print_data({"items": rows}, output)
        return
    wide = output == "wide"
    table = Table(title=f"releases of {app}")
    columns = ["sha", "number", "subject", "created", "running in", "last verified in"]
    if wide:
        columns[3:3] = ["author", "committed", "digest"]
    for column in columns:
        table.add_column(column)
    for r in rows:
        row = [
            str(r["sha"]) if wide else short(r["sha"]),
            str(r["number"]),
            (r.get("message") or "").split("\n", 1)[0],
            when(r.get("created_at")) if wide else age(r.get("created_at")),
            ", ".join(r["deployed_in"]) or "-",
            ", ".join(r["verified_in"]) or "-",
        ]
        if wide:
            row[3:3] = [r.get("author") or "-", when(r.get("committed_at")), short(r["digest"])]
        table.add_row(*row)
    make_console(unbounded=wide).print(table)
