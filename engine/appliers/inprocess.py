"""Running the appliers inside the current event loop: for tests, the demo, benchmarks.

Where it sits: beside ``service.py``. ``kubesim:<name>`` clusters map to the contexts of
the kubeconfig kubesim wrote (``contexts`` may map them anywhere else, e.g. all to the
current context of a real cluster's kubeconfig with ``""``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from engine.appliers.context import ApplierSettings
from engine.appliers.render import GitRenderer, Renderer
from engine.appliers.service import AppliersService
from engine.config.loader import EnvironmentsConfig
from engine.kube import Clusters, RetryPolicy
from engine.store import EventStore
from engine.supervisor import Supervisor


@contextlib.asynccontextmanager
async def running_appliers(
    *,
    store: EventStore,
    config: EnvironmentsConfig,
    kubeconfig: str | Path | None,
    contexts: Mapping[str, str] | None = None,
    home: Path | None = None,
    renderer: Renderer | None = None,
    settings: ApplierSettings | None = None,
    retry: RetryPolicy | None = None,
    promoter: bool = True,
    supervisor: Supervisor | None = None,
    graceful: bool = True,
) -> AsyncIterator[AppliersService]:
    """Start an AppliersService's tasks on `supervisor` (else one of its own); stop them
    and close the clients on exit.

    `graceful`: let the workers close the syncs they are in first (``finish_syncs()``);
    False cancels at once, as a process killed in the middle of a sync would end.
    """
    if renderer is None:
        if home is None:
            raise ValueError("give the home of the Git mirrors, or a renderer")
        renderer = GitRenderer(home)
    clusters = Clusters(
        kubeconfig=str(kubeconfig) if kubeconfig is not None else None,
        contexts=contexts,
        retry=retry,
    )
    service = AppliersService(
        store=store,
        config=config,
        clusters=clusters,
        renderer=renderer,
        settings=settings,
        promoter=promoter,
    )
    own = supervisor is None
    supervisor = supervisor or Supervisor()
    try:
        await asyncio.wait_for(service.start(supervisor), timeout=30)
        yield service
    finally:
        try:
            if graceful:
                await service.finish_syncs()
            await service.stop()
        finally:
            if own:
                await supervisor.stop()
            await clusters.aclose()
