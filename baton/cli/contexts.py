"""`baton login`, `baton logout`, `baton context list|use`: the servers a person talks to.

Where it sits: over `baton.contexts`, which keeps the contexts file and decides, for every
command that asks a server (`baton.cli.remote`), which URL and token it uses. `login`
takes the token from a file, from stdin or from a hidden prompt (a `--token` flag works
too, but stays in the shell's history), checks it against the server with an
authenticated read, and only then stores it. No command here prints a token.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from baton.cli.errors import ExitCode, Failure, fail
from baton.cli.output import OUTPUT, is_data, print_data
from baton.cli.remote import call

if TYPE_CHECKING:
    from baton.client import Client
    from baton.contexts import Contexts


@click.command()
@click.argument("url")
@click.option("--name", default=None, help="The context's name (default: the URL's host:port).")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the token from this file.",
)
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input.")
@click.option(
    "--token",
    default=None,
    help="The token itself; it stays in the shell's history, so prefer the others.",
)
def login(
    url: str, name: str | None, token_file: Path | None, token_stdin: bool, token: str | None
) -> None:
    """Check a token against the server at URL and store both as the current context.

    Without --token-file, --token-stdin or --token, a terminal asks for the token
    (hidden). A token the server refuses exits 4 and nothing is stored.
    """
    from baton import contexts
    from baton.contexts import Context, Server, default_name

    secret = _token(token_file, token_stdin, token)
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        fail(Failure(f"{url} is no http:// or https:// URL", None, ExitCode.USAGE))

    async def check(client: Client) -> str | None:
        from baton.client import ApiError

        try:  # any authenticated read: 401 is a token the server does not know
            await client.get("/apps")
        except ApiError as exc:
            if exc.status == 401:
                return str(exc)
            if exc.status != 403:  # 403: a token it knows, only not allowed to read apps
                raise
        return None

    refused = call(check, Server(url, secret, "login"))
    if refused is not None:
        fail(
            Failure(
                f"the server at {url} refused the token ({refused}), so nothing was stored",
                None,
                ExitCode.FORBIDDEN,
            )
        )
    stored = contexts.load()
    context = Context(name or default_name(url), url, secret)
    stored.put(context)
    path = contexts.save(stored)
    click.echo(f"logged in to {url}; context {context.name} is the current one ({path})")


def _token(token_file: Path | None, token_stdin: bool, token: str | None) -> str:
    given = [flag for flag, used in _sources(token_file, token_stdin, token) if used]
    if len(given) > 1:
        fail(Failure(f"{' and '.join(given)} both give a token", "give one", ExitCode.USAGE))
    if token_file is not None:
        secret = token_file.read_text(encoding="utf-8").strip()
    elif token_stdin:
        secret = sys.stdin.read().strip()
    elif token is not None:
        secret = token.strip()
    elif sys.stdin.isatty():
        secret = str(click.prompt("Token", hide_input=True)).strip()
    else:
        fail(
            Failure(
                "no token given and no terminal to ask for one",
                "give --token-file FILE or --token-stdin",
                ExitCode.USAGE,
            )
        )
    if not secret:
        fail(
            Failure(
                "the token is empty", "give the token the server's token file holds", ExitCode.USAGE
            )
        )
    return secret


def _sources(
    token_file: Path | None, token_stdin: bool, token: str | None
) -> list[tuple[str, bool]]:
    return [
        ("--token-file", token_file is not None),
        ("--token-stdin", token_stdin),
        ("--token", token is not None),
    ]


@click.command()
@click.argument("name", required=False)
def logout(name: str | None) -> None:
    """Forget the context NAME (default: the current one) and its token."""
    from baton import contexts

    stored = contexts.load()
    name = name or stored.current
    if name is None:
        fail(Failure("no context is current", "name one: `baton logout NAME`", ExitCode.USAGE))
    _known(stored, name)
    stored.remove(name)
    contexts.save(stored)
    click.echo(f"logged out of {name}")


@click.group()
def context() -> None:
    """The servers `baton login` stored, and which one commands talk to."""


@context.command("list")
@OUTPUT
def list_contexts(output: str) -> None:
    """Every stored context, `*` on the current one (never a token)."""
    from baton import contexts

    stored = contexts.load()
    shown: dict[str, Any] = {
        "current-context": stored.current,
        "items": [
            {"name": c.name, "url": c.url, "current": c.name == stored.current}
            for c in stored.contexts
        ],
    }
    if is_data(output):
        print_data(shown, output)
    elif not stored.contexts:
        click.echo("no contexts; `baton login URL` stores one")
    else:
        width = max(len(c.name) for c in stored.contexts)
        click.echo(f"  {'NAME':<{width}}  URL")
        for c in stored.contexts:
            mark = "*" if c.name == stored.current else " "
            click.echo(f"{mark} {c.name:<{width}}  {c.url}")


@context.command("use")
@click.argument("name")
def use(name: str) -> None:
    """Make NAME the context commands talk to."""
    from baton import contexts

    stored = contexts.load()
    _known(stored, name)
    stored.current = name
    contexts.save(stored)
    click.echo(f"context {name} is the current one")


def _known(stored: Contexts, name: str) -> None:
    if stored.get(name) is not None:
        return
    known = ", ".join(stored.names) or "none"
    fail(
        Failure(
            f"there is no context {name} (known: {known})",
            "`baton login URL --name NAME` adds one",
            ExitCode.USAGE,
        )
    )
