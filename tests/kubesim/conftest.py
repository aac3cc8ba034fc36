"""Fixtures for the kubesim tests: running clusters, a kubectl runner, HTTP clients.

`kube` is the target of the kubectl contract suite: kubesim by default, or the real
cluster named by BATON_TEST_KUBECONFIG (and BATON_TEST_CONTEXT) when that is set. Each
test gets a fresh namespace there, so the same assertions hold against either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# This folder shares its name with the kubesim package. When pytest puts tests/ on
# sys.path (as it does for a tests/conftest.py outside a package), `import kubesim` finds
# this folder as a namespace package unless the project root is searched too; a regular
# package anywhere on the path wins over a namespace one, so appending the root is enough.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

import aiohttp  # noqa: E402
import pytest  # noqa: E402
from ks_helpers import FAILING_IMAGE, Kube, kubectl_binary  # noqa: E402

from kubesim import ControllerTiming, SimHandle, start_clusters, start_clusters_async  # noqa: E402


@pytest.fixture(scope="session")
def sim_threaded() -> Iterator[SimHandle]:
    """Three clusters served from a background thread, for tests that block on kubectl."""
    handle = start_clusters(["dev", "staging", "prod"], timing=ControllerTiming.fast())
    for cluster in handle.clusters.values():
        cluster.fail_image(FAILING_IMAGE)
        cluster.simulate_pods = True  # the contract suite compares with real clusters
    yield handle
    handle.stop()


def _real_target() -> tuple[str, str] | None:
    kubeconfig = os.environ.get("BATON_TEST_KUBECONFIG")
    if not kubeconfig:
        return None
    context = os.environ.get("BATON_TEST_CONTEXT", "")
    if not context:
        done = subprocess.run(
            [kubectl_binary(), "--kubeconfig", kubeconfig, "config", "current-context"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        context = done.stdout.strip()
    return kubeconfig, context


@pytest.fixture(params=["kubesim"] if not os.environ.get("BATON_TEST_KUBECONFIG") else ["real"])
def kube(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kube]:
    """A fresh namespace on kubesim, or on the real cluster of BATON_TEST_KUBECONFIG."""
    namespace = f"contract-{uuid.uuid4().hex[:8]}"
    if request.param == "real":
        real = _real_target()
        assert real is not None
        target = Kube(real[0], real[1], namespace, str(tmp_path / "cache"), None)
    else:
        handle: SimHandle = request.getfixturevalue("sim_threaded")
        target = Kube(
            str(handle.kubeconfig_path),
            "dev",
            namespace,
            str(tmp_path / "cache"),
            handle.cluster("dev"),
        )
    target.run("create", "namespace", namespace)
    yield target
    target.run("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle]:
    """Two clusters served from the test's own event loop."""
    handle = await start_clusters_async(["dev", "prod"], timing=ControllerTiming.fast())
    yield handle
    await handle.aclose()


@pytest.fixture
async def http(sim: SimHandle) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client for the `dev` cluster of `sim`."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=sim.url("dev") + "/", timeout=timeout) as session:
        yield session
