"""`baton insights`: the four DORA keys per app and environment, as a table (`-o wide`
for more columns) or as JSON or YAML (docs/cli-output.md).

Where it sits: a client of the REST API (`GET /insights`, through `baton.cli.remote`),
as `baton.cli.reads` is. A relative time (`30d`, `12h`, `2w`) becomes a time before now
here; an ISO time goes to the server as given.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from baton.cli.console import make_console
from baton.cli.output import OUTPUT, is_data, local, print_data
from baton.cli.remote import call, with_server

if TYPE_CHECKING:
    from baton.contexts import Server

_RELATIVE = re.compile(r"([0-9]{1,4})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str | None, name: str, *, now: datetime | None = None) -> str | None:
    """`30d` (30 days ago), `12h`, `2w`, `90m`, or an ISO time; bad input is a usage error."""
    if value is None:
        return None
    relative = _RELATIVE.fullmatch(value.strip())
    if relative:
        amount, unit = relative.groups()
        at = (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
        return at.isoformat()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither an RFC 3339 time such as 2026-11-26T08:00:00Z nor an age "
            "such as 30d",
            param_hint=name,
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


def _duration(seconds: float | None) -> str:
    """1 d 2 h, 3 h 5 min, 45 min, 20 s; `-` for none."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _row(item: dict[str, Any], wide: bool) -> list[str]:
    deployments, lead = item["deployments"], item["lead_time"]
    failure, restore = item["change_failure"], item["restore"]
    rate = failure["rate"]
    open_incidents = restore["incidents"] - restore["restored"]
    more = [str(lead["count"]), f"{restore['incidents']} ({restore['restored']} restored)"]
    return [
        item["app"],
        item["environment"],
        f"{deployments['count']} ({deployments['per_day']:.2f}/day)",
        f"{_duration(lead['p50_seconds'])} / {_duration(lead['p90_seconds'])}",
        "-" if rate is None else f"{rate:.0%} ({failure['failed']} of {failure['started']})",
        f"{_duration(restore['p50_seconds'])} / {_duration(restore['mean_seconds'])}"
        + (f" ({open_incidents} open)" if open_incidents else ""),
        *(more if wide else []),
    ]


@click.command()
@click.argument("app", required=False)
@click.option("--env", "environment", default=None, help="Only this environment.")
@click.option("--since", default=None, help="Start: an age (30d, 12h, 2w) or an ISO time.")
@click.option("--until", default=None, help="End (excluded): an age or an ISO time; default now.")
@click.option("--bucket", type=click.Choice(["day", "week"]), default=None, help="Series step.")
@OUTPUT
@with_server
def insights(
    app: str | None,
    environment: str | None,
    since: str | None,
    until: str | None,
    bucket: str | None,
    output: str,
    server: Server,
) -> None:
    """Deployment frequency, lead time, change failure rate and time to restore (DORA),
    per app and environment, from baton's own log (default: the last 30 days)."""
    query = {
        "app": app,
        "environment": environment,
        "since": parse_when(since, "--since"),
        "until": parse_when(until, "--until"),
        "bucket": bucket,
    }
    result = call(lambda c: c.get("/insights", **query), server)
    if is_data(output):
        print_data(result, output)
        return
    from rich.table import Table

    wide = output == "wide"
    window = f"{local(result['since'])} → {local(result['until'])}"
    table = Table(title=f"DORA insights {window}")
    columns = [
        "app",
        "environment",
        "deployments",
        "lead time p50 / p90",
        "change failure",
        "restore p50 / mean",
    ]
    for column in columns + (["lead times measured", "incidents"] if wide else []):
        table.add_column(column)
    for item in result["items"]:
        table.add_row(*_row(item, wide))
    make_console(unbounded=wide).print(table)
