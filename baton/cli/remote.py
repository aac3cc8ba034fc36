"""What the commands that talk to a running baton share: the server's URL and one call.

Where it sits: under `baton.cli.reads` and `baton.cli.promotions`. They read the server
from `--url`/`BATON_URL` and the token from `BATON_TOKEN` (`baton.client`); a refusal,
a missing permission or an unreachable server ends as one line with its exit code:
1 refused by a policy or not found, 3 server unreachable, 4 not authenticated or not
allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from baton.cli.errors import ExitCode, Failure, fail

if TYPE_CHECKING:
    from baton.client import Client

T = TypeVar("T")

URL = click.option(
    "--url",
    envvar="BATON_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The baton server (BATON_URL).",
)


def call(work: Callable[[Client], Coroutine[Any, Any, T]], url: str) -> T:
    """Run `work` with a client of the server at `url`; a failure ends the command."""
    import aiohttp

    from baton.client import ApiError, Client

    async def run() -> T:
        async with Client(url) as client:
            return await work(client)

    try:
        return asyncio.run(run())
    except ApiError as exc:
        code = ExitCode.FORBIDDEN if exc.status in (401, 403) else ExitCode.REFUSED
        fail(Failure(str(exc), None, code))
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        fail(
            Failure(
                f"cannot reach {url} ({exc or type(exc).__name__})",
                "is `baton serve` running there? --url or BATON_URL names the server",
                ExitCode.UNREACHABLE,
            )
        )


def short(sha: Any) -> str:
    """A release SHA as a table shows it: 12 characters, or `-` for none."""
    return str(sha)[:12] if sha else "-"
