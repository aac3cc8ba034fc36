"""`baton promote`, `approve`, `reject`, `cancel`, `rollback`: the decisions a person takes.

Where it sits: clients of the REST API (`baton.cli.remote`), acting as the subject of
`BATON_TOKEN`; the server's policies decide, and a refusal ends as one line (exit 1, or
4 when the token may not do it). A promotion id may be a unique prefix of it
(`baton.cli.remote.resolve_promotion`). `--dry-run` prints the server's preview instead
(`baton.cli.preview`).

`--wait` (on `promote` and `rollback`) follows the promotion once accepted, as
`argocd app wait` follows an app: approval, objects applied, health, soak, verified,
drawn live on a terminal and as one line per change elsewhere (`baton.cli.progress`).
It asks the server for the promotion every half second rather than following the live
stream: each answer is whole, so a dropped connection or a restarted server costs a
retry (said on screen, never a failure) and nothing is missed while it was gone. Exit
codes: 0 verified; 1 failed (naming the rollback that follows, where the environment
rolls back by itself), rejected, cancelled or rolled back; 1 too when `--timeout`
passes first (as `kubectl wait` does), the failure naming what it still waited for;
130 on Ctrl-C and 143 on SIGTERM (128 + the signal, as a shell counts), which stop the
waiting only: the promotion goes on.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode, Failure, fail
from baton.cli.preview import print_preview
from baton.cli.remote import call, resolve_promotion, short, with_server
from engine.domain.enums import PromotionPhase
from engine.domain.policy import format_duration, parse_duration

if TYPE_CHECKING:
    from baton.cli.progress import LineLog, LiveView
    from baton.client import Client
    from baton.contexts import Server

#: how often a waiting command asks for the promotion
POLL_S = 0.5
#: how long one answer may take before the server counts as gone for now
ANSWER_TIMEOUT_S = 10.0
#: the longest pause between two tries while the server is gone
RETRY_MAX_S = 5.0
#: how long a failed promotion's automatic rollback may take to be asked for
ROLLBACK_WAIT_S = 10.0

DRY_RUN = click.option(
    "--dry-run",
    is_flag=True,
    help="Preview only: the refusals, the manifest diff and a server-side dry run; "
    "exit 0 if it would be accepted, 1 if refused. Nothing is done.",
)


class _Duration(click.ParamType[timedelta]):
    """A duration as the config writes one: 30s, 10m, 1h30m."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        """The timedelta `value` names; a usage error when it names none, or nothing."""
        if isinstance(value, timedelta):
            return value
        try:
            found = parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if found <= timedelta(0):
            self.fail(f"{value!r} is no time to wait: give more than 0s", param, ctx)
        return found


TIMEOUT = click.option(
    "--timeout",
    type=_Duration(),
    default=None,
    help="Stop waiting after this long (30s, 10m, 1h) and exit 1 naming what the promotion "
    "still waits for (`promote` and `rollback`: with --wait). Default: until it ends.",
)


def waiting(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give `command` the options `--wait` and `--timeout`."""
    with_timeout = TIMEOUT(command)
    return click.option(
        "--wait",
        is_flag=True,
        help="Follow the promotion until it ends: approval, objects applied, health, soak. "
        "Exit 0 verified; 1 failed, rejected, cancelled, rolled back or timed out; "
        "130/143 on Ctrl-C/SIGTERM (the promotion goes on).",
    )(with_timeout)


def _check_waiting(wait: bool, timeout: timedelta | None, dry_run: bool) -> None:
    if timeout is not None and not wait:
        raise click.UsageError("--timeout goes with --wait")
    if wait and dry_run:
        raise click.UsageError("--dry-run makes no promotion for --wait to follow")


@click.command()
@click.argument("app")
@click.option("--to", "environment", required=True, help="The environment to promote into.")
@click.option("--release", default=None, help="A release SHA (or unique prefix).")
@click.option(
    "--from", "from_environment", default=None, help="Promote what this environment verified last."
)
@click.option("--reason", default="")
@click.option(
    "--override",
    "override_reason",
    default=None,
    help="Admin: set pipeline order or a freeze window aside, for this reason.",
)
@DRY_RUN
@waiting
@with_server
def promote(
    app: str,
    environment: str,
    release: str | None,
    from_environment: str | None,
    reason: str,
    override_reason: str | None,
    dry_run: bool,
    wait: bool,
    timeout: timedelta | None,
    server: Server,
) -> int:
    """Ask for a release to run in an environment (or, with --dry-run, preview it; with
    --wait, follow it to its end: exit 0 verified, 1 failed, rejected, cancelled, rolled
    back or timed out)."""
    if (release is None) == (from_environment is None):
        raise click.UsageError("give exactly one of --release and --from")
    _check_waiting(wait, timeout, dry_run)
    body: dict[str, Any] = {"app": app, "environment": environment, "reason": reason}
    body.update({"release": release} if release else {"from_environment": from_environment})
    if override_reason:
        body["override"] = {"reason": override_reason}
    if dry_run:
        previewed = call(lambda c: c.post("/promotions/preview", body), server)
        return print_preview(make_console(), previewed)
    result = call(lambda c: c.post("/promotions", body), server)
    make_console().print(
        f"promotion {result['id']} {result['phase']}: {short(result['release'])} "
        f"→ {app}/{environment}"
    )
    return wait_for(result, server, timeout=timeout) if wait else ExitCode.DONE


def _decision(verb: str, given: str, body: dict[str, Any], server: Server) -> None:
    async def work(client: Client) -> dict[str, Any]:
        promotion_id = await resolve_promotion(client, given)
        answer: dict[str, Any] = await client.post(f"/promotions/{promotion_id}/{verb}", body)
        return answer

    result = call(work, server)
    make_console().print(f"promotion {result['id']} {result['phase']}")


@click.command()
@click.argument("promotion_id")
@click.option("--comment", default="")
@with_server
def approve(promotion_id: str, comment: str, server: Server) -> None:
    """Approve a promotion (as the token's subject)."""
    _decision("approve", promotion_id, {"comment": comment}, server)


@click.command()
@click.argument("promotion_id")
@click.option("--reason", default="")
@with_server
def reject(promotion_id: str, reason: str, server: Server) -> None:
    """Reject a promotion that awaits approval."""
    _decision("reject", promotion_id, {"reason": reason}, server)


@click.command()
@click.argument("promotion_id")
@click.option("--reason", default="")
@with_server
def cancel(promotion_id: str, reason: str, server: Server) -> None:
    """Cancel a promotion before it starts."""
    _decision("cancel", promotion_id, {"reason": reason}, server)


@click.command()
@click.argument("app")
@click.option("--env", "environment", required=True)
@click.option(
    "--to",
    "release",
    default=None,
    help="Default: the last release verified there before the current one.",
)
@click.option("--reason", default="")
@DRY_RUN
@waiting
@with_server
def rollback(
    app: str,
    environment: str,
    release: str | None,
    reason: str,
    dry_run: bool,
    wait: bool,
    timeout: timedelta | None,
    server: Server,
) -> int:
    """Roll an environment back to a release that was healthy there (or preview it; with
    --wait, follow it to its end, exit codes as `promote --wait`)."""
    _check_waiting(wait, timeout, dry_run)
    given = {"app": app, "environment": environment, "reason": reason, "release": release}
    body = {k: v for k, v in given.items() if v}
    if dry_run:
        previewed = call(lambda c: c.post("/rollbacks/preview", body), server)
        return print_preview(make_console(), previewed)
    result = call(lambda c: c.post("/rollbacks", body), server)
    make_console().print(
        f"rollback {result['id']} {result['phase']}: {app}/{environment} → "
        f"{short(result['release'])}"
    )
    return wait_for(result, server, timeout=timeout) if wait else ExitCode.DONE


@dataclass(frozen=True, kw_only=True)
class _Waited:
    """How the waiting ended: the promotion as last seen, and why it stopped if not ended."""

    promotion: dict[str, Any]
    timed_out: bool = False
    signum: int | None = None
    rollback: dict[str, Any] | None = None


def wait_for(accepted: dict[str, Any], server: Server, *, timeout: timedelta | None) -> int:
    """Follow the promotion `accepted` until it ends (or `timeout` passes, or a signal);
    its progress on stdout; the exit code (see the module's docstring)."""
    from baton.cli.progress import LineLog, LiveView, headline, outcome, waiting_for

    console = make_console()
    on_terminal = console.is_terminal and not console.is_dumb_terminal
    live_view = LiveView(accepted) if on_terminal else None
    display = live_view or LineLog(console)

    async def work(client: Client) -> _Waited:
        if live_view is None:
            return await _waiting(client, accepted, display, timeout)
        from rich.live import Live

        with Live(live_view, console=console, refresh_per_second=8):
            return await _waiting(client, accepted, display, timeout)

    waited = call(work, server)
    p = waited.promotion
    if waited.signum is not None:
        click.echo(
            f"stopped waiting; {headline(p)} goes on "
            f"(`baton promotion wait {p['id'][:8]}` follows it again)",
            err=True,
        )
        return 128 + waited.signum
    if waited.timed_out:
        assert timeout is not None
        fail(
            Failure(
                f"gave up after {format_duration(timeout)}: {headline(p)} is still "
                f"{waiting_for(p)}",
                f"it goes on; `baton promotion wait {p['id'][:8]}` follows it again",
                ExitCode.REFUSED,
            )
        )
    ended = outcome(p)
    if ended is None:
        console.print(f"{headline(p)}: verified", markup=False, highlight=False)
        return ExitCode.DONE
    later = waited.rollback
    rolled = f"; rollback {later['id']} takes it back to {short(later['release'])}" if later else ""
    fail(Failure(f"{headline(p)} {ended}{rolled}", None, ExitCode.REFUSED))


async def _waiting(
    client: Client, accepted: dict[str, Any], display: LiveView | LineLog, within: timedelta | None
) -> _Waited:
    """Follow the promotion under a timeout, until a signal stops the waiting."""
    loop = asyncio.get_running_loop()
    following = asyncio.ensure_future(_follow(client, accepted["id"], display))
    stopped_by: list[int] = []

    def stop(signum: int) -> None:
        stopped_by.append(signum)
        following.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        async with asyncio.timeout(within.total_seconds() if within else None):
            ended = await following
    except TimeoutError:
        return _Waited(promotion=display.last or accepted, timed_out=True)
    except asyncio.CancelledError:
        if not stopped_by:
            raise
        return _Waited(promotion=display.last or accepted, signum=stopped_by[0])
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return _Waited(promotion=ended, rollback=await _rollback_after(client, ended))


async def _follow(client: Client, promotion_id: str, display: LiveView | LineLog) -> dict[str, Any]:
    """Ask for the promotion until it ends, showing each answer; a server that does not
    answer (down, restarting, its database away) is asked again, less often, until it does."""
    import aiohttp

    from baton.client import ApiError

    pause = POLL_S
    while True:
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                found: dict[str, Any] = await client.get(f"/promotions/{promotion_id}")
        except (aiohttp.ClientError, TimeoutError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status not in (502, 503, 504):
                raise
            display.lose(f"no answer from {client.url} ({exc or type(exc).__name__})")
            pause = min(pause * 2, RETRY_MAX_S)
            await asyncio.sleep(pause)
            continue
        pause = POLL_S
        display.update(found)
        if PromotionPhase(found["phase"]).is_terminal:
            return found
        await asyncio.sleep(POLL_S)


async def _rollback_after(client: Client, p: dict[str, Any]) -> dict[str, Any] | None:
    """The rollback that follows the failed promotion `p` where its environment rolls back
    by itself (the server asks for it a moment after the failure), else None."""
    if p["phase"] != PromotionPhase.FAILED or not await _rolls_back(client, p):
        return None
    try:
        async with asyncio.timeout(ROLLBACK_WAIT_S):
            while True:
                latest = await client.get(
                    "/promotions", app=p["app"], environment=p["environment"], limit=1
                )
                later: dict[str, Any] | None = next(iter(latest["items"]), None)
                if later is not None and later["id"] != p["id"]:
                    return later if later.get("kind") == "rollback" else None
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        return None


async def _rolls_back(client: Client, p: dict[str, Any]) -> bool:
    """True when the promotion's environment rolls a failed promotion back by itself."""
    app = await client.get(f"/apps/{p['app']}")
    envs: list[dict[str, Any]] = app["environments"]
    env = next((e for e in envs if e["environment"] == p["environment"]), {})
    return bool((env.get("policy") or {}).get("auto_rollback"))
