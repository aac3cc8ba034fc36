"""The aiohttp application serving several named clusters, and ways to run it.

One application, one listening port per cluster (each cluster also answers under
`/clusters/<name>/` on any of them); the written kubeconfig names each as a context. Embed it with
`await start_clusters_async(...)` inside an event loop, or `start_clusters(...)`, which
runs the loop in a background thread and returns a handle with `.stop()`.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from kubesim.cluster import Cluster, ControllerTiming
from kubesim.controllers import ControllerManager
from kubesim.faults import Faults
from kubesim.handlers import handle

CLUSTERS = web.AppKey("clusters", dict[str, Cluster])
# Local port -> cluster name. One port per cluster, because kubectl keys its discovery
# cache by host and port only: clusters told apart by path alone would share it.
PORTS = web.AppKey("ports", dict[int, str])
_T = TypeVar("_T")


def create_app(clusters: Iterable[Cluster]) -> web.Application:
    """The application serving the given clusters.

    At the root, a cluster answers on its own port (see `PORTS`; the first cluster on any
    other port); under `/clusters/<name>/` every cluster answers on every port.
    """
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[CLUSTERS] = {c.name: c for c in clusters}
    app[PORTS] = {}
    app.router.add_route("*", "/clusters/{cluster}/{tail:.*}", _by_name)
    app.router.add_route("*", "/{tail:.*}", _default)
    app.cleanup_ctx.append(_controllers)
    app.on_shutdown.append(_end_watches)
    return app


async def _controllers(app: web.Application) -> AsyncIterator[None]:
    managers = [ControllerManager(cluster) for cluster in app[CLUSTERS].values()]
    for manager in managers:
        manager.start()
    yield
    for manager in managers:
        await manager.stop()


async def _end_watches(app: web.Application) -> None:
    for cluster in app[CLUSTERS].values():
        cluster.close_watches()


async def _by_name(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTERS].get(request.match_info["cluster"])
    if cluster is None:
        raise web.HTTPNotFound(text=f"no cluster named {request.match_info['cluster']!r}")
    prefix = f"/clusters/{cluster.name}"
    return await handle(request, cluster, request.match_info["tail"], prefix)


async def _default(request: web.Request) -> web.StreamResponse:
    clusters = request.app[CLUSTERS]
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    name = request.app[PORTS].get(sockname[1]) if sockname else None
    cluster = clusters[name] if name else next(iter(clusters.values()))
    return await handle(request, cluster, request.match_info["tail"], "")


def tune_gc() -> None:
    """Collect garbage less often: a process-wide choice, so the host makes it.

    Stored objects are acyclic JSON trees, millions of small dicts at scale; the default
    thresholds make full collections stall requests for hundreds of milliseconds (the p99
    of the benchmark drops from ~400 ms to ~40 ms with this).
    """
    gc.set_threshold(50_000, 20, 100)


def kubeconfig(urls: dict[str, str]) -> dict[str, Any]:
    """A kubeconfig document with one context per cluster, the first one current."""
    names = list(urls)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": urls[n]}} for n in names],
        "users": [{"name": "kubesim", "user": {"token": "kubesim"}}],
        "contexts": [
            {"name": n, "context": {"cluster": n, "user": "kubesim", "namespace": "default"}}
            for n in names
        ],
        "current-context": names[0] if names else "",
        "preferences": {},
    }


@dataclass
class SimHandle:
    """Running clusters: their URLs, the kubeconfig naming them, and how to stop them."""

    clusters: dict[str, Cluster]
    urls: dict[str, str]
    kubeconfig_path: Path
    runner: web.AppRunner
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stopped: bool = field(default=False)
    #: the folder made for the kubeconfig when the caller named none; removed on stop
    _own_folder: Path | None = None

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SimHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url(self, name: str) -> str:
        """The API server URL of one cluster."""
        if name not in self.clusters:
            raise KeyError(f"no cluster named {name!r}; have {sorted(self.clusters)}")
        return self.urls[name]

    def cluster(self, name: str) -> Cluster:
        """The state and knobs of one cluster."""
        return self.clusters[name]

    def call(self, fn: Callable[[], _T], timeout: float = 10.0) -> _T:
        """Run `fn` on the server's event loop (needed when the server runs in a thread)."""
        if self._loop is None or self._thread is None:
            return fn()

        async def run() -> _T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    async def aclose(self) -> None:
        """Stop serving (from the loop the server runs in)."""
        if not self._stopped:
            self._stopped = True
            await self.runner.cleanup()
            if self._own_folder is not None:
                # one small file: not worth a thread hop
                shutil.rmtree(self._own_folder, ignore_errors=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; from any thread when started by `start_clusters`."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("started inside a loop: use `await handle.aclose()`")
        if not self._stopped:
            asyncio.run_coroutine_threadsafe(self.aclose(), self._loop).result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)


def _make_clusters(
    names: Iterable[str],
    timing: ControllerTiming | None,
    faults: Faults | None,
) -> list[Cluster]:
    clusters = []
    for name in names:
        # Each cluster gets its own copy, so one cluster's knobs never move another's.
        own_timing = ControllerTiming(**vars(timing)) if timing else ControllerTiming()
        own_faults = (
            Faults(**{k: v for k, v in vars(faults).items() if not k.startswith("_")})
            if faults
            else Faults()
        )
        clusters.append(Cluster(name, timing=own_timing, faults=own_faults))
    if not clusters:
        raise ValueError("at least one cluster name is needed")
    return clusters


async def start_clusters_async(
    names: Iterable[str] = ("kubesim",),
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    kubeconfig_path: Path | str | None = None,
    timing: ControllerTiming | None = None,
    faults: Faults | None = None,
) -> SimHandle:
    """Serve named clusters from the running loop; write their kubeconfig."""
    clusters = _make_clusters(names, timing, faults)
    runner = web.AppRunner(
        create_app(clusters), access_log=None, handle_signals=False, shutdown_timeout=2.0
    )
    await runner.setup()
    url_host = f"[{host}]" if ":" in host else host
    urls = {}
    for index, cluster in enumerate(clusters):
        # port 0: a free port each; a fixed port: consecutive ports from it.
        site = web.TCPSite(runner, host, port + index if port else 0, reuse_address=True)
        await site.start()
        # asyncio's Server or uvloop's: both list their sockets (typeshed's AbstractServer
        # does not say so)
        server: Any = site._server
        bound = server.sockets[0].getsockname()[1]
        runner.app[PORTS][bound] = cluster.name
        urls[cluster.name] = f"http://{url_host}:{bound}"
    own_folder = None
    if kubeconfig_path is None:
        own_folder = Path(tempfile.mkdtemp(prefix="kubesim-"))
        kubeconfig_path = own_folder / "kubeconfig"
    path = Path(kubeconfig_path)
    # A few hundred bytes on local disk: not worth a thread hop.
    path.write_text(yaml.safe_dump(kubeconfig(urls), sort_keys=False))  # noqa: ASYNC240
    return SimHandle({c.name: c for c in clusters}, urls, path, runner, _own_folder=own_folder)


def start_clusters(
    names: Iterable[str] = ("kubesim",),
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    kubeconfig_path: Path | str | None = None,
    timing: ControllerTiming | None = None,
    faults: Faults | None = None,
    startup_timeout: float = 30.0,
) -> SimHandle:
    """Serve named clusters from a background thread; `.stop()` ends them."""
    loop = asyncio.new_event_loop()
    result: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            result["handle"] = loop.run_until_complete(
                start_clusters_async(
                    names,
                    host=host,
                    port=port,
                    kubeconfig_path=kubeconfig_path,
                    timing=timing,
                    faults=faults,
                )
            )
        except BaseException as exc:  # handed to the caller below
            result["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="kubesim-server", daemon=True)
    thread.start()
    if not started.wait(startup_timeout):
        raise TimeoutError(f"kubesim did not start within {startup_timeout}s")
    if "error" in result:
        raise result["error"]
    handle: SimHandle = result["handle"]
    handle._loop, handle._thread = loop, thread
    return handle
