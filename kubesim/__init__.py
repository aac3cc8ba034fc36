"""kubesim: a Kubernetes API emulator for baton's tests and demo; never a production target.

Start named clusters on loopback and get a kubeconfig naming each as a context:

    handle = start_clusters(["dev", "staging", "prod"], timing=ControllerTiming.fast())
    handle.kubeconfig_path, handle.url("dev")
    handle.cluster("prod").fail_image(":broken")
    handle.cluster("dev").faults.error_rate = 0.1
    stop = handle.cluster("dev").observers.add(print)  # each request as it arrives
    handle.stop()

Inside a running event loop use `await start_clusters_async(...)` and `await handle.aclose()`.
"""

from kubesim.cluster import Cluster, ControllerTiming
from kubesim.faults import DropMode, Faults
from kubesim.observers import Arrival
from kubesim.server import (
    SimHandle,
    create_app,
    start_clusters,
    start_clusters_async,
    tune_gc,
)

__all__ = [
    "Arrival",
    "Cluster",
    "ControllerTiming",
    "DropMode",
    "Faults",
    "SimHandle",
    "create_app",
    "start_clusters",
    "start_clusters_async",
    "tune_gc",
]
