"""`baton version`: this client's version and, when a server is named, the server's.

Where it sits: a client command beside `baton.cli.reads`. The server's version comes from
`GET /healthz`, which is public, so no token is needed; the server is asked only when
`--url` or `BATON_URL` names one (the default URL is a guess, not a server someone named).
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

import click
from click.core import ParameterSource

from baton.cli.remote import URL, call


def client_version() -> str:
    """The installed baton's version; "unknown" when it runs from sources not installed."""
    try:
        return metadata.version("baton")
    except metadata.PackageNotFoundError:
        return "unknown"


async def _server_version(client: Any) -> str:
    body = await client.get("/healthz")
    return str(body.get("version", "unknown")) if isinstance(body, dict) else "unknown"


@click.command()
@URL
@click.option("--client", "client_only", is_flag=True, help="Only this client's; ask no server.")
@click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def version(ctx: click.Context, url: str, client_only: bool, output: str) -> None:
    """Show this baton's version and, given --url or BATON_URL, the server's.

    An unreachable server exits 3 (after the client's line, as text).
    """
    named = ctx.get_parameter_source("url") in (
        ParameterSource.COMMANDLINE,
        ParameterSource.ENVIRONMENT,
    )
    client = client_version()
    if output == "text":
        click.echo(f"client: {client}")
    server = call(_server_version, url) if named and not client_only else None
    if output == "json":
        answer = {"client": client, "server": server, "url": url if server else None}
        click.echo(json.dumps(answer, indent=2))
    elif server is not None:
        click.echo(f"server: {server} ({url})")
