"""Fixtures for the applier tests: kubesim clusters (or a real one) and a stage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.store import EventStore
from kubesim import ControllerTiming, SimHandle, start_clusters_async
from tests.appliers.applier_stage import ENVIRONMENTS, REAL_KUBECONFIG, Stage


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle | None]:
    """Three kubesim clusters (dev, staging, prod), or None against a real cluster."""
    if REAL_KUBECONFIG:
        yield None
        return
    timing = ControllerTiming.fast()
    timing.progress_deadline = 1.0
    handle = await start_clusters_async(list(ENVIRONMENTS), timing=timing)
    try:
        yield handle
    finally:
        await handle.aclose()


@pytest.fixture
def stage(tmp_path: Path, store: EventStore, sim: SimHandle | None) -> Stage:
    """A stage for one app."""
    return Stage(tmp_path=tmp_path, store=store, sim=sim)
