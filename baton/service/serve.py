"""A running baton: the API, projections, Git watcher and appliers in one process.

Where it sits: the composition root of a running baton, behind `baton serve`. `running()`
starts the parts the role asks for and yields handles to them (the demo and the tests
drive them); roles (`baton.service.roles`) let several processes split the work: `api`
(HTTP and projections) and `worker` (Git watcher, appliers, automatic promotions).
Environments whose cluster is `kubesim:<name>` get the built-in emulator when no
kubeconfig is given.

On exit the parts stop in the reverse order of their start: the HTTP site first (no new
connections; requests in flight get `BATON_STOP_GRACE`, live tails end at once), then the
appliers close the syncs they are in, then the supervisor stops every other task, and the
database closes last.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial

from aiohttp import web

from api.app import init_app
from api.config import ApiConfig
from api.gitpoll import watcher_trigger
from baton.service.roles import Role
from console import app as console
from engine.appliers.context import ApplierSettings
from engine.appliers.inprocess import running_appliers
from engine.config.loader import EnvironmentsConfig, load_environments
from engine.config.reload import ConfigReloader
from engine.config.sync import apply_config
from engine.freeze_clock import build_freeze_clock
from engine.git.wakeups import polls_on_notify
from engine.git.watcher import GitWatcher
from engine.kube.clusters import KUBESIM_PREFIX
from engine.metric_events import EventMetrics
from engine.notify.notifier import build_notifier
from engine.releases import build_watcher
from engine.repository import Repository
from engine.runtime import Database, open_database
from engine.settings import Settings
from engine.store import EventMetadata
from engine.subscriptions import Subscriptions
from engine.supervisor import Supervisor
from kubesim import ControllerTiming, SimHandle, start_clusters_async

log = logging.getLogger(__name__)
#: the engine's connections: some are held for as long as baton runs (the appliers' lock,
#: the LISTENs of the wake loop, the promoter, the metrics feed and the Git watcher), the
#: rest serve the workers, the commands and a `replay --verify`; ten left them too few
_POOL_SIZE = 24


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """How to run."""

    host: str = "127.0.0.1"
    port: int = 8080
    role: Role = Role.ALL
    kubeconfig: str | None = None
    #: bind the port with SO_REUSEPORT, beside other processes serving it (`--workers`)
    reuse_port: bool = False
    kubesim_timing: ControllerTiming | None = None
    api: ApiConfig | None = None


@dataclass
class Running:
    """Handles to a running baton."""

    url: str | None
    config: EnvironmentsConfig
    database: Database
    supervisor: Supervisor
    reloader: ConfigReloader
    sim: SimHandle | None = None
    watcher: GitWatcher | None = None


def _kubesim_clusters(config: EnvironmentsConfig) -> list[str]:
    names = {
        env.cluster.removeprefix(KUBESIM_PREFIX)
        for app in config.apps
        for env in app.environments
        if env.cluster.startswith(KUBESIM_PREFIX)
    }
    return sorted(names)


async def _reconfigure_watcher(watcher: GitWatcher, config: EnvironmentsConfig) -> None:
    await watcher.reconfigure(config.apps)


@contextlib.asynccontextmanager
async def running(
    options: ServeOptions, *, settings: Settings | None = None
) -> AsyncIterator[Running]:
    """Start baton's parts for `options.role`; stop them all on exit."""
    settings = settings or Settings.from_env()
    config = load_environments(settings.environments_dir)
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(open_database(settings, max_size=_POOL_SIZE))
        repository = Repository(db.store)
        await apply_config(config, repository, metadata=EventMetadata(actor="config"))
        reloader = ConfigReloader(
            directory=settings.environments_dir, repository=repository, config=config
        )
        state = Running(
            url=None, config=config, database=db, supervisor=Supervisor(), reloader=reloader
        )
        # before the database closes, and also when a later part fails to start: a task
        # left running would hold the process open after the failure
        stack.push_async_callback(state.supervisor.stop)
        kubeconfig = options.kubeconfig or os.environ.get("BATON_KUBECONFIG")
        if options.role.works and kubeconfig is None and (names := _kubesim_clusters(config)):
            sim_home = settings.home / "kubesim"
            sim_home.mkdir(parents=True, exist_ok=True)
            state.sim = await start_clusters_async(
                names,
                kubeconfig_path=sim_home / "kubeconfig",
                timing=options.kubesim_timing or ControllerTiming.fast(),
            )
            stack.push_async_callback(state.sim.aclose)
            kubeconfig = str(state.sim.kubeconfig_path)
        # requests in flight get as long to finish on stop as a sync's requests to a cluster
        applier_settings = ApplierSettings.from_env()
        if options.role.works:
            state.watcher = build_watcher(config, settings=settings, repository=repository)
            await state.watcher.start(state.supervisor)
            stack.push_async_callback(state.watcher.stop)
            # the webhooks of API processes without a watcher reach it through Postgres
            await stack.enter_async_context(polls_on_notify(db.store.pool, state.watcher))
            appliers = await stack.enter_async_context(
                running_appliers(
                    store=db.store,
                    config=config,
                    kubeconfig=kubeconfig,
                    home=settings.home,
                    settings=applier_settings,
                    supervisor=state.supervisor,
                )
            )
            reloader.add("git-watcher", partial(_reconfigure_watcher, state.watcher))
            reloader.add("appliers", appliers.reconfigure)
            # beside the promoter: the durable subscription `notifications` (one consumer)
            notifier = build_notifier(store=db.store, config=config)
            state.supervisor.start("notifications", partial(notifier.run, Subscriptions(db.store)))
            reloader.add("notifications", notifier.reconfigure)
            # freeze windows are schedules: the clock records their starts and ends in the log
            clock = build_freeze_clock(store=db.store, config=config)
            state.supervisor.start("freeze-clock", clock.run)
            reloader.add("freeze-clock", clock.reconfigure)
        if options.role.serves_http:
            # outcome counters for /metrics, once per process that serves it
            state.supervisor.start("metrics-feed", partial(EventMetrics().follow, db.store))
            api_config = options.api or ApiConfig.from_env()
            if kubeconfig is not None:  # previews dry-run where the appliers apply
                api_config = replace(api_config, kubeconfig=kubeconfig)
            if state.watcher is not None:
                api_config = replace(
                    api_config, poll_now=watcher_trigger(state.watcher, config.apps)
                )
            app = init_app(
                settings=settings,
                config=api_config,
                supervisor=state.supervisor,
                reloader=reloader,
            )
            console.setup(app)
            runner = web.AppRunner(
                app,
                access_log=None,
                handle_signals=False,
                shutdown_timeout=applier_settings.stop_grace,
            )
            await runner.setup()
            site = web.TCPSite(
                runner, options.host, options.port, reuse_port=options.reuse_port or None
            )
            await site.start()
            stack.push_async_callback(runner.cleanup)
            server = site._server
            assert server is not None
            port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            state.url = f"http://{options.host}:{port}"
        yield state
