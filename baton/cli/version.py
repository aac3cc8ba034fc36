"""`baton version`: this client's version and, when a server is named, the server's.

Where it sits: a client command beside `baton.cli.reads`. The server's version comes from
`GET /healthz`, which is public, so no token is needed; the server is asked only when
`--url`, `BATON_URL` or the current context names one (the default URL is a guess, not a
server someone named).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from baton.cli.output import OUTPUT, is_data, print_data
from baton.cli.remote import call, with_server
from engine.version import installed_version

if TYPE_CHECKING:
    from baton.contexts import Server


async def _server_version(client: Any) -> str:
    body = await client.get("/healthz")
    return str(body.get("version", "unknown")) if isinstance(body, dict) else "unknown"


@click.command()
@with_server
@click.option("--client", "client_only", is_flag=True, help="Only this client's; ask no server.")
@OUTPUT
def version(server: Server, client_only: bool, output: str) -> None:
    """Show this baton's version and, given --url, BATON_URL or a context, the server's.

    An unreachable server exits 3 (after the client's line, in a table).
    """
    named = server.source != "default"
    client = installed_version()
    if not is_data(output):
        click.echo(f"client: {client}")
    answer = call(_server_version, server) if named and not client_only else None
    if is_data(output):
        shown = {"client": client, "server": answer, "url": server.url if answer else None}
        print_data(shown, output)
    elif answer is not None:
        click.echo(f"server: {answer} ({server.url})")
