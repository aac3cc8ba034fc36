"""`baton serve`: run baton (`baton.service.serve.running`) until SIGTERM or SIGINT.

Where it sits: the command line's way into `baton.service`. It checks what can be checked
before anything starts (the port is free, the tokens parse), starts the parts the role
asks for, the extra HTTP processes of `--workers`, and stops them all on a signal. Exit
codes (`baton.cli.errors.ExitCode`): 2 bad usage or configuration (a port already in use
too), 3 the database unreachable; each failure is one line on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode, Failure, bind_failure, check_can_listen, fail
from baton.service.roles import Role

if TYPE_CHECKING:
    from baton.service.stopping import Stop
    from engine.config.reload import ConfigReloader

log = logging.getLogger(__name__)


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
    from api.auth import TokenConfigError
    from api.config import ApiConfig
    from baton.service.serve import ServeOptions, running
    from baton.service.stopping import Stop
    from baton.service.workers import ExtraWorkers
    from engine.telemetry import setup_logging, setup_tracing

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
                    make_console().print(
                        f"baton serving {state.url}/api/v1 (role {role}{processes})"
                    )
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
    from baton.service.workers import until_orphaned

    await until_orphaned(parent)
    stop.now("the first process is gone")


@contextlib.asynccontextmanager
async def _sighup_reloads(reloader: ConfigReloader) -> AsyncIterator[None]:
    """SIGHUP reloads the environments config while baton serves."""
    from engine.config.reload import reload_on_sighup

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
