"""The Kubernetes adapter: the only package of baton that imports kubernetes-asyncio.

Where it sits: below the appliers (``engine.appliers``), which decide what to apply,
delete and read; this package does those calls against one cluster per kubeconfig
context, with a timeout on every request and retries (exponential backoff with jitter,
Retry-After honoured) on 429, 5xx, timeouts and dropped connections.

- :class:`ClusterClient`: apply (server-side, field manager ``baton``), get, list, delete,
  watch.
- :meth:`ClusterClient.watch`: a kind's events after a resourceVersion
  (:class:`WatchEvent`), bookmarks included.
- :class:`Clusters`: one client per context, opened on first use, closed together.
- :class:`KubeError` (a status the server answered with), :class:`ClusterUnavailable`
  (retries ran out without an answer).
"""

from engine.kube.client import ClusterClient, Outcome
from engine.kube.clusters import Clusters
from engine.kube.errors import ClusterUnavailable, KubeError
from engine.kube.retry import RetryPolicy
from engine.kube.watch import WatchEvent, WatchEventType

__all__ = [
    "ClusterClient",
    "ClusterUnavailable",
    "Clusters",
    "KubeError",
    "Outcome",
    "RetryPolicy",
    "WatchEvent",
    "WatchEventType",
]
