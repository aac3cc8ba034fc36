"""`baton status`, `baton history`, `baton diff`: what a running baton shows, as tables
(`-o wide` for more columns, `-o json|yaml` for scripts; docs/cli-output.md).

Where it sits: clients of the REST API (`baton.cli.remote`): the pipeline of an app, its
audit trail, and what changed between two points in time. `history --follow` tails the
audit trail by polling `GET /events?after=POSITION`: every answer is the same audit entry
`history` prints (the live stream, `GET /events/stream`, sends raw events instead), each
poll is a request of its own, so a restarted server or a dropped connection costs one
retry rather than the tail, and the position cursor neither skips nor repeats an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from baton.cli.console import make_console
from baton.cli.insights import parse_when
from baton.cli.output import OUTPUT, dump, is_data, local, print_data, when
from baton.cli.remote import call, short, with_server

if TYPE_CHECKING:
    from baton.client import Client
    from baton.contexts import Server

#: how often `history --follow` asks for new events, and at most how long it waits to
#: ask again after the server did not answer
_POLL_S = 1.0
_RETRY_MAX_S = 10.0
#: events `history --follow` takes per request while it catches up
_FOLLOW_PAGE = 500


def _release(sha: Any, wide: bool) -> str:
    return str(sha) if wide and sha else short(sha)


@click.command()
@click.argument("app", required=False)
@OUTPUT
@with_server
def status(app: str | None, output: str, server: Server) -> None:
    """The pipeline of APP (or of every app) as a table, environments in pipeline order."""
    from rich.table import Table

    async def work(client: Client) -> list[dict[str, Any]]:
        if app:
            return [await client.get(f"/apps/{app}")]
        return list((await client.get("/apps"))["items"])

    pipelines = call(work, server)
    if is_data(output):
        print_data(pipelines[0] if app else {"items": pipelines}, output)
        return
    wide = output == "wide"
    columns = ["environment", "desired", "applied", "health", "sync", "in flight", "since", "by"]
    if wide:
        columns[3:3] = ["last verified", "upstream"]
    for pipeline in pipelines:
        table = Table(title=f"{pipeline['name']}")
        for column in columns:
            table.add_column(column)
        for env in pipeline["environments"]:
            flight = env.get("in_flight")
            in_flight = "-"
            if flight:
                in_flight = f"{flight['id'] if wide else flight['id'][:8]} {flight['phase']}"
            row = [
                env["environment"],
                _release(env.get("desired_release"), wide),
                _release(env.get("applied_release"), wide),
                env["health"],
                env["sync_status"],
                in_flight,
                when(env.get("last_changed_at")),
                env.get("last_actor") or "-",
            ]
            if wide:
                row[3:3] = [
                    _release(env.get("last_verified_release"), wide),
                    env.get("upstream") or "-",
                ]
            table.add_row(*row)
        make_console(unbounded=wide).print(table)


def _event_columns(wide: bool) -> list[str]:
    columns = ["position", "time", "env", "actor", "action", "trace", "summary"]
    if wide:
        columns[5:5] = ["type", "stream", "correlation"]
    return columns


def _event_cells(e: dict[str, Any], wide: bool, *, time: str) -> list[str]:
    trace = e.get("trace_id") or "-"
    cells = [
        str(e["position"]),
        time,
        e.get("environment") or "-",
        e["actor"],
        e["action"],
        trace if wide else trace[:16],
        e["summary"],
    ]
    if wide:
        cells[5:5] = [e["event_type"], e["stream_id"], e.get("correlation_id") or "-"]
    return cells


@click.command()
@click.argument("app")
@click.option("--env", "environment", default=None, help="Only this environment.")
@click.option("--actor", default=None, help="Only what this actor did.")
@click.option(
    "--type",
    "kind",
    default=None,
    help="Only this event type (PromotionApproved, or Target.PromotionApproved).",
)
@click.option("--since", default=None, help="From: an age (30m, 12h, 2d) or an ISO time.")
@click.option("--until", default=None, help="Before: an age or an ISO time.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Then print new events as they are recorded, until Ctrl-C (with -o json: one "
    "object a line).",
)
@OUTPUT
@with_server
def history(
    app: str,
    environment: str | None,
    actor: str | None,
    kind: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    follow: bool,
    output: str,
    server: Server,
) -> None:
    """Who did what, where and when, with trace ids: the audit trail of an app, oldest of
    the latest LIMIT events first."""
    if follow and until is not None:
        raise click.UsageError("--until ends what --follow would follow; give one of them")
    query: dict[str, Any] = {
        "app": app,
        "environment": environment,
        "actor": actor,
        "type": kind,
        "since": parse_when(since, "--since"),
        "until": parse_when(until, "--until"),
    }

    async def known(client: Client) -> None:
        # an app that does not exist has no history: it is not found, not an empty table
        await client.get(f"/apps/{app}")

    async def latest(client: Client) -> list[dict[str, Any]]:
        items = (await client.get("/events", **query, limit=limit))["items"]
        if not items:
            await known(client)
        return list(reversed(items))

    if follow:

        async def following(client: Client) -> None:
            await known(client)
            await _follow(client, query, limit, output)

        call(following, server)
        return
    events = call(latest, server)
    if is_data(output):
        print_data({"items": events}, output)
        return
    from rich.table import Table

    wide = output == "wide"
    table = Table(title=f"history of {app}")
    for column in _event_columns(wide):
        table.add_column(column, overflow="fold")
    for e in events:
        table.add_row(*_event_cells(e, wide, time=when(e["recorded_at"])))
    make_console(unbounded=wide).print(table)


#: the widths of the columns of `history --follow`'s lines (the summary, last, is not cut)
_FOLLOW_WIDTHS = {
    "position": 8,
    "time": 26,
    "env": 10,
    "actor": 12,
    "action": 22,
    "type": 28,
    "stream": 24,
    "correlation": 36,
    "trace": 16,
}


def _line(cells: list[str], columns: list[str]) -> str:
    padded = [
        cell.ljust(_FOLLOW_WIDTHS.get(column, len(cell)))
        for cell, column in zip(cells[:-1], columns, strict=False)
    ]
    return "  ".join([*padded, cells[-1]])


def _printer(output: str) -> Callable[[list[dict[str, Any]]], bool]:
    """What prints events as `history --follow` comes to know them (a table's header
    first); it answers False once nobody reads any more (`| head`)."""
    wide = output == "wide"
    columns = _event_columns(wide)
    lines: list[str] = [] if is_data(output) else [_line([c.upper() for c in columns], columns)]

    def emit(events: list[dict[str, Any]]) -> bool:
        for e in events:
            if output == "json":
                lines.append(dump(e, "jsonl").rstrip("\n"))
            elif output == "yaml":
                lines.append(f"---\n{dump(e, 'yaml')}".rstrip("\n"))
            else:
                # no age: a line printed as its event comes would stay "0s ago" forever
                lines.append(_line(_event_cells(e, wide, time=local(e["recorded_at"])), columns))
        try:
            for line in lines:
                click.echo(line)
            sys.stdout.flush()  # into a pipe too, each event as soon as it is known
        except BrokenPipeError:  # the reader left: end as quietly as Ctrl-C
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return False
        lines.clear()
        return True

    return emit


async def _follow(client: Client, query: dict[str, Any], limit: int, output: str) -> None:
    """The latest `limit` events, then each new one as it is recorded, until SIGINT,
    SIGTERM or a reader that leaves (each ends the command with exit 0)."""
    import aiohttp

    from baton.client import ApiError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    emit = _printer(output)
    latest = list(reversed((await client.get("/events", **query, limit=limit))["items"]))
    if not emit(latest):
        return
    # no match yet: every match that comes is after position 0, and new
    cursor = latest[-1]["position"] if latest else 0
    retry, lost = _POLL_S, False
    while not stop.is_set():
        try:
            page = await client.get("/events", **query, after=cursor, limit=_FOLLOW_PAGE)
        except (aiohttp.ClientConnectionError, TimeoutError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status < 500:
                raise
            if not lost:
                click.echo(f"the server does not answer ({exc}); still trying", err=True)
            lost, retry = True, min(retry * 2, _RETRY_MAX_S)
            await _sleep(stop, retry)
            continue
        lost, retry = False, _POLL_S
        if not emit(page["items"]):
            return
        if page["items"]:
            cursor = page["items"][-1]["position"]
        if page.get("next_after") is None:  # caught up: wait for more
            await _sleep(stop, _POLL_S)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@click.command()
@click.argument("app")
@click.option("--from-time", "start", required=True, help="ISO time or log position.")
@click.option("--to-time", "end", required=True, help="ISO time or log position.")
@OUTPUT
@with_server
def diff(app: str, start: str, end: str, output: str, server: Server) -> None:
    """What changed in APP's environments between two points in time."""
    from rich.table import Table

    result = call(lambda c: c.get("/state/diff", **{"from": start, "to": end}), server)
    changes = [c for c in result["changes"] if c["app"] == app]
    if is_data(output):
        print_data(
            {"app": app, "from": result["from"], "to": result["to"], "items": changes}, output
        )
        return
    if not changes:
        make_console().print(f"no change in {app} between {start} and {end}")
        return
    wide = output == "wide"
    table = Table(title=f"{app}: {start} → {end}")
    for column in ("environment", "field", "from", "to"):
        table.add_column(column)
    for c in changes:
        table.add_row(
            c["environment"], c["field"], _release(c["from"], wide), _release(c["to"], wide)
        )
    make_console(unbounded=wide).print(table)
