"""Every cluster the appliers serve: environments name them, this opens one client each.

An environment's ``cluster`` is a kubeconfig context, or ``kubesim:<name>`` for the
emulator (a context ``<name>`` in the kubeconfig that kubesim wrote). Clients open on
first use and close together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from engine.kube.client import ClusterClient
from engine.kube.retry import RetryPolicy

KUBESIM_PREFIX = "kubesim:"


class Clusters:
    """Clients by environment cluster name."""

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        contexts: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 32,
    ) -> None:
        """`contexts` maps a cluster name (``kubesim:dev``) to a context; the default
        strips the ``kubesim:`` prefix and otherwise uses the name as the context."""
        self.kubeconfig = kubeconfig
        self.contexts = dict(contexts or {})
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self._clients: dict[str, ClusterClient] = {}
        self._lock = asyncio.Lock()

    def context_of(self, cluster: str) -> str | None:
        """The kubeconfig context of an environment's cluster ('' or '-': current)."""
        if cluster in self.contexts:
            return self.contexts[cluster] or None
        if cluster.startswith(KUBESIM_PREFIX):
            return cluster.removeprefix(KUBESIM_PREFIX)
        return cluster or None

    async def client(self, cluster: str) -> ClusterClient:
        """The client of `cluster`, opened on first use."""
        client = self._clients.get(cluster)
        if client is not None:
            return client
        async with self._lock:
            if cluster not in self._clients:
                self._clients[cluster] = await ClusterClient.open(
                    name=cluster,
                    kubeconfig=self.kubeconfig,
                    context=self.context_of(cluster),
                    retry=self.retry,
                    concurrency=self.concurrency,
                )
            return self._clients[cluster]

    async def aclose(self) -> None:
        """Close every client."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
