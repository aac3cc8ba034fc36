"""What the commands that talk to a running baton share: the server's URL and one call.

Where it sits: under `baton.cli.reads`, `baton.cli.promotions` and every other command
that asks the server. `with_server` gives them `--url` and `--token`, chosen over
`BATON_URL`/`BATON_TOKEN`, over the current context of `baton login`, over the default
URL (`baton.contexts.resolve`, the one place that decides); a refusal,
a missing permission or an unreachable server ends as one line with its exit code:
1 refused by a policy or not found, 3 server unreachable, 4 not authenticated or not
allowed.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from baton.cli.errors import ExitCode, Failure, fail

if TYPE_CHECKING:
    from baton.client import ApiError, Client
    from baton.contexts import Server

T = TypeVar("T")


def with_server(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give `command` the options `--url` and `--token`, as one argument `server`."""

    @functools.wraps(command)
    def resolved(*args: Any, url: str | None, token: str | None, **kwargs: Any) -> Any:
        from baton.contexts import resolve

        return command(*args, server=resolve(url, token), **kwargs)

    with_token = click.option(
        "--token",
        default=None,
        help="The bearer token (else BATON_TOKEN, else the current context's); "
        "a flag stays in the shell's history, so prefer `baton login`.",
    )(resolved)
    return click.option(
        "--url",
        default=None,
        help="The baton server (else BATON_URL, else the current context's, "
        "else http://127.0.0.1:8080).",
    )(with_token)


class Refused(Exception):
    """A command's own refusal, raised while it talks to the server: ends as its failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.problem)
        self.failure = failure


def call(work: Callable[[Client], Coroutine[Any, Any, T]], server: Server) -> T:
    """Run `work` with a client of `server`; a failure ends the command."""
    import aiohttp

    from baton.client import ApiError, Client

    async def run() -> T:
        # "" rather than None: the token is decided, no fallback is looked up again
        async with Client(server.url, server.token or "") as client:
            return await work(client)

    try:
        return asyncio.run(run())
    except Refused as exc:
        fail(exc.failure)
    except ApiError as exc:
        fail(refusal(exc, server))
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        fail(
            Failure(
                f"cannot reach {server.url} ({_why_unreachable(exc)})",
                "is `baton serve` running there? --url, BATON_URL or `baton context use` "
                "names the server",
                ExitCode.UNREACHABLE,
            )
        )


def _why_unreachable(exc: BaseException) -> str:
    """`connection refused`, `no answer in time`: the cause, not the library's sentence."""
    cause = getattr(exc, "os_error", None) or exc.__cause__ or exc
    number = getattr(cause, "errno", None)
    # the C library's words: "Connection refused", "Name or service not known"
    said = os.strerror(number) if isinstance(number, int) and number > 0 else None
    said = said or getattr(cause, "strerror", None)
    if isinstance(said, str) and said:
        return said[:1].lower() + said[1:]
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or "the connection failed"


def refusal(exc: ApiError, server: Server) -> Failure:
    """What a refusal of the server means to the person at the terminal, and what to do."""
    said = str(exc)
    if exc.status == 401:
        problem = (
            f"{server.url} did not accept the token"
            if server.token
            else f"{server.url} needs a token"
        )
        return Failure(
            problem,
            f"`baton login {server.url}` stores one, or set BATON_TOKEN",
            ExitCode.FORBIDDEN,
        )
    if "type" not in exc.problem:  # no problem document: something else answers there
        return Failure(
            f"{server.url} answered HTTP {exc.status}, which baton would not",
            "is it a baton server? --url, BATON_URL or `baton context use` names the server",
            ExitCode.UNREACHABLE,
        )
    kind = str(exc.problem.get("type", "")).rpartition(":")[2]  # urn:baton:problem:<kind>
    if kind == "forbidden":  # the token's roles: anything else refused is a policy's no
        return Failure(said, "an admin grants roles in the server's token file", ExitCode.FORBIDDEN)
    if kind == "self-approval":
        return Failure(
            said, "someone else with the approver role must approve it", ExitCode.REFUSED
        )
    if exc.status == 503:
        wait = f" in {exc.retry_after:.0f}s" if exc.retry_after else ""
        # the kind (database-unavailable) says why; the detail may name a driver's error
        return Failure(
            f"{server.url} cannot answer now ({kind.replace('-', ' ')})",
            f"try again{wait}",
            ExitCode.UNREACHABLE,
        )
    if exc.status >= 500:
        return Failure(
            f"the server failed ({said})", "its log tells why; please report it", ExitCode.REFUSED
        )
    return Failure(said, None, ExitCode.REFUSED)


#: the shortest promotion id prefix a command takes
MIN_ID_PREFIX = 6


async def resolve_promotion(client: Client, given: str) -> str:
    """The whole id of the promotion whose id starts with `given` (at least 6 characters):
    the one place a command turns what a person typed into a promotion id. The server
    matches (`GET /promotions?id_prefix=`); none is "not found" (exit 1), more than one is
    ambiguous (exit 2, the candidates named), a prefix too short is bad usage (exit 2)."""
    if len(given) < MIN_ID_PREFIX:
        raise Refused(
            Failure(
                f"promotion id {given!r} is too short",
                f"give at least {MIN_ID_PREFIX} characters of it",
                ExitCode.USAGE,
            )
        )
    found = (await client.get("/promotions", id_prefix=given, limit=10))["items"]
    return match_promotion(given, [str(p["id"]) for p in found])


def match_promotion(given: str, ids: list[str]) -> str:
    """The one id of `ids` that `given` names (itself, or the only one it starts); a
    `Refused` when none or more than one."""
    if given in ids:
        return given
    candidates = sorted(i for i in ids if i.startswith(given))
    if not candidates:
        raise Refused(
            Failure(
                f"there is no promotion whose id starts with {given!r}",
                "`baton promotions list` shows the promotions",
                ExitCode.REFUSED,
            )
        )
    if len(candidates) > 1:
        named = ", ".join(candidates[:-1]) + f" or {candidates[-1]}"
        raise Refused(
            Failure(
                f"promotion id {given!r} is ambiguous: it could be {named}",
                "give more characters",
                ExitCode.USAGE,
            )
        )
    return candidates[0]


def short(sha: Any) -> str:
    """A release SHA as a table shows it: 12 characters, or `-` for none."""
    return str(sha)[:12] if sha else "-"
