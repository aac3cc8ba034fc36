"""The CLI commands that run or talk to a baton server: `serve`, `status`, `promote`,
`approve`, `reject`, `rollback`, `history`, `diff`, `kubesim`.

Registered as `baton.commands` entry points, so the engine's CLI never imports the API.
Clients read the server from `--url`/`BATON_URL` and the token from `BATON_TOKEN`. Exit
codes (`engine.cli_errors.ExitCode`): 0 done, 1 refused by a policy or not found, 2 bad
usage or configuration (a port already in use too), 3 server unreachable, 4 not
authenticated or not allowed; each failure is one line on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import click
from rich.table import Table

from api.auth import TokenConfigError
from api.client import ApiError, Client
from api.config import ApiConfig
from api.serve import Role, ServeOptions, running
from api.stopping import Stop
from api.workers import ExtraWorkers, until_orphaned
from engine.cli_console import make_console
from engine.cli_errors import ExitCode, Failure, bind_failure, check_can_listen, fail
from engine.config.reload import ConfigReloader, reload_on_sighup
from engine.telemetry import setup_logging, setup_tracing

T = TypeVar("T")
log = logging.getLogger(__name__)
console = make_console()
_URL = click.option(
    "--url",
    envvar="BATON_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The baton server (BATON_URL).",
)


def _call(work: Callable[[Client], Coroutine[Any, Any, T]], url: str) -> T:
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


@click.command()
@click.option("--host", envvar="BATON_API_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="BATON_API_PORT", default=8080, show_default=True, type=int)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.ALL.value,
    show_default=True,
    help="api: HTTP and projections; worker: Git and clusters.",
)
@click.option(
    "--kubeconfig",
    envvar="BATON_KUBECONFIG",
    default=None,
    help="Clusters' kubeconfig; without it kubesim:* clusters are emulated.",
)
@click.option(
    "--workers",
    envvar="BATON_API_WORKERS",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes answering the REST API on the port (one per core is a good start).",
)
@click.option(
    "--loop",
    envvar="BATON_LOOP",
    type=click.Choice(["auto", "uvloop", "asyncio"]),
    default="auto",
    show_default=True,
    help="The event loop: uvloop where installed (auto), or asyncio's own.",
)
@click.option("--worker-of", type=int, default=None, hidden=True)
def serve(
    host: str,
    port: int,
    role: str,
    kubeconfig: str | None,
    workers: int,
    loop: str,
    worker_of: int | None,
) -> None:
    """Run baton until interrupted."""
    # A young collection every 50,000 allocations rather than 700: at thousands of requests
    # a second, 700 came every millisecond, the objects of the requests in flight survived
    # it into the oldest generation, and that set off full passes over every cached
    # aggregate: a dozen in the first half minute, of up to 48 ms, each a stall for every
    # connection of the process (measured with 32 connections on GET /apps/{app}: p99
    # 22-34 ms after the first seconds, 18-20 with this; one full pass over 5 ms, not 12).
    gc.set_threshold(50_000, 10, 10)
    setup_logging()
    tracing = setup_tracing()
    serving = Role(role)
    if workers > 1 and not serving.serves_http:
        raise click.BadParameter(f"role {role} serves no HTTP", param_hint="--workers")
    # a taken port fails before the database is touched (extra workers share it by design)
    if serving.serves_http and worker_of is None and (taken := check_can_listen(host, port)):
        fail(taken)
    try:
        # tokens are checked before anything starts: a part already running (the Git
        # watcher's threads among them) can hold up the exit after a failed start
        api_config = ApiConfig.from_env() if serving.serves_http else None
    except TokenConfigError as exc:
        fail(Failure(str(exc), "fix BATON_TOKENS_FILE or BATON_TOKENS", ExitCode.USAGE))
    options = ServeOptions(
        host=host,
        port=port,
        role=serving,
        kubeconfig=kubeconfig,
        reuse_port=workers > 1 or worker_of is not None,
        api=api_config,
    )

    stop = Stop()

    async def run() -> None:
        stop.on_signals()
        extras: ExtraWorkers | None = None
        try:
            async with running(options) as state, _sighup_reloads(state.reloader):
                if worker_of is not None:
                    orphaned = partial(_stop_when_orphaned, worker_of, stop)
                    state.supervisor.start("orphan-watch", orphaned)
                    log.info("HTTP worker of process %d serving %s", worker_of, state.url)
                elif state.url:
                    if workers > 1:
                        extras = ExtraWorkers(
                            workers - 1,
                            host=host,
                            port=urlsplit(state.url).port or port,
                            database_url=state.database.url,
                            kubeconfig=kubeconfig,
                            supervisor=state.supervisor,
                        )
                    processes = f", {workers} processes" if workers > 1 else ""
                    console.print(f"baton serving {state.url}/api/v1 (role {role}{processes})")
                # What start-up loaded lives as long as the process: keep it out of the
                # collector's full passes, which walk every object and stall every request
                gc.freeze()
                await stop.wait()
                if extras is not None:
                    await extras.terminate()  # they stop beside this one, not after it
        finally:
            if extras is not None:
                await extras.stop()

    try:
        _serve_forever(run(), loop)
    except OSError as exc:  # the rest (database, config) is explained by BatonGroup
        if (failure := bind_failure(exc, host, port)) is None:
            raise
        fail(failure)
    stop.done(tracing)


async def _stop_when_orphaned(parent: int, stop: Stop) -> None:
    """Stop this HTTP worker once the process that started it is gone."""
    await until_orphaned(parent)
    stop.now("the first process is gone")


@contextlib.asynccontextmanager
async def _sighup_reloads(reloader: ConfigReloader) -> AsyncIterator[None]:
    """SIGHUP reloads the environments config while baton serves."""
    with reload_on_sighup(reloader):
        yield


def _serve_forever(main: Coroutine[Any, Any, None], loop: str = "auto") -> None:
    """Run the server on uvloop where it is installed (or asked for), else on asyncio's own."""
    # uvloop (libuv) reads, writes and schedules in C what asyncio's loop does in Python.
    # One process, 32 connections, 1M events: GET /apps/{app} 2,460-2,800 req/s against
    # 2,030-2,450 on asyncio's loop, GET /events 955-1,035 against 840-965.
    try:
        if loop == "asyncio":
            raise ImportError("asyncio's own loop asked for")
        import uvloop
    except ImportError:  # asked for, or not built for this platform (Windows)
        if loop == "uvloop":
            raise click.UsageError("uvloop is not installed", ctx=None) from None
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _short(sha: Any) -> str:
    return str(sha)[:12] if sha else "-"


@click.command()
@click.argument("app", required=False)
@_URL
def status(app: str | None, url: str) -> None:
    """The pipeline of APP (or of every app) as a table."""

    async def work(client: Client) -> list[dict[str, Any]]:
        if app:
            return [await client.get(f"/apps/{app}")]
        return list((await client.get("/apps"))["items"])

    for pipeline in _call(work, url):
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
                _short(env["desired_release"]),
                _short(env["applied_release"]),
                env["health"],
                env["sync_status"],
                f"{flight['id'][:8]} {flight['phase']}" if flight else "-",
                str(env.get("last_changed_at") or "-")[:19],
                env.get("last_actor") or "-",
            )
        console.print(table)


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
@_URL
def promote(
    app: str,
    environment: str,
    release: str | None,
    from_environment: str | None,
    reason: str,
    override_reason: str | None,
    url: str,
) -> None:
    """Ask for a release to run in an environment."""
    if (release is None) == (from_environment is None):
        raise click.UsageError("give exactly one of --release and --from")
    body: dict[str, Any] = {"app": app, "environment": environment, "reason": reason}
    body.update({"release": release} if release else {"from_environment": from_environment})
    if override_reason:
        body["override"] = {"reason": override_reason}
    result = _call(lambda c: c.post("/promotions", body), url)
    console.print(
        f"promotion {result['id']} {result['phase']}: {_short(result['release'])} "
        f"→ {app}/{environment}"
    )


def _decision(verb: str, promotion_id: str, body: dict[str, Any], url: str) -> None:
    result = _call(lambda c: c.post(f"/promotions/{promotion_id}/{verb}", body), url)
    console.print(f"promotion {promotion_id} {result['phase']}")


@click.command()
@click.argument("promotion_id")
@click.option("--comment", default="")
@_URL
def approve(promotion_id: str, comment: str, url: str) -> None:
    """Approve a promotion (as the token's subject)."""
    _decision("approve", promotion_id, {"comment": comment}, url)


@click.command()
@click.argument("promotion_id")
@click.option("--reason", default="")
@_URL
def reject(promotion_id: str, reason: str, url: str) -> None:
    """Reject a promotion that awaits approval."""
    _decision("reject", promotion_id, {"reason": reason}, url)


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
@_URL
def rollback(app: str, environment: str, release: str | None, reason: str, url: str) -> None:
    """Roll an environment back to a release that was healthy there."""
    body = {"app": app, "environment": environment, "reason": reason, "release": release}
    result = _call(lambda c: c.post("/rollbacks", {k: v for k, v in body.items() if v}), url)
    console.print(
        f"rollback {result['id']} {result['phase']}: {app}/{environment} → "
        f"{_short(result['release'])}"
    )


@click.command()
@click.argument("app")
@click.option("--env", "environment", default=None)
@click.option("--since", default=None, help="An ISO time, e.g. 2026-11-26T10:00:00Z.")
@click.option("--limit", default=50, show_default=True)
@_URL
def history(app: str, environment: str | None, since: str | None, limit: int, url: str) -> None:
    """Who did what, where and when, with trace ids: the audit trail of an app."""
    page = _call(
        lambda c: c.get("/events", app=app, environment=environment, since=since, limit=limit), url
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
    console.print(table)


@click.command()
@click.argument("app")
@click.option("--from-time", "start", required=True, help="ISO time or log position.")
@click.option("--to-time", "end", required=True, help="ISO time or log position.")
@_URL
def diff(app: str, start: str, end: str, url: str) -> None:
    """What changed in APP's environments between two points in time."""
    result = _call(lambda c: c.get("/state/diff", **{"from": start, "to": end}), url)
    changes = [c for c in result["changes"] if c["app"] == app]
    if not changes:
        console.print(f"no change in {app} between {start} and {end}")
        return
    table = Table(title=f"{app}: {start} → {end}")
    for column in ("environment", "field", "from", "to"):
        table.add_column(column)
    for c in changes:
        table.add_row(c["environment"], c["field"], _short(c["from"]), _short(c["to"]))
    console.print(table)


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def kubesim(ctx: click.Context) -> None:
    """Run the Kubernetes emulator (the options of `python -m kubesim`)."""
    from kubesim.__main__ import main as kubesim_main

    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(kubesim_main(ctx.args))
