"""Does a cluster answer? The kubeconfig's contexts, and one bounded request to a server.

Where it sits: `baton config check` asks (through ``engine.config.probe``) before anything
is applied; the appliers do the real work through ``engine.kube.clusters``. One attempt,
no retries: a check must say "no answer" within its timeout, not wait out a backoff.
"""

from __future__ import annotations

import asyncio
import os

from kubernetes_asyncio.config import ConfigException, list_kube_config_contexts
from kubernetes_asyncio.config.kube_config import (
    ENV_KUBECONFIG_PATH_SEPARATOR,
    KUBE_CONFIG_DEFAULT_LOCATION,
)

from engine.kube.client import ClusterClient
from engine.kube.errors import ClusterUnavailable, KubeError
from engine.kube.retry import RetryPolicy


class KubeconfigError(Exception):
    """The kubeconfig cannot be read, or does not say how to reach a context."""


class NoAnswer(Exception):
    """The cluster's API server did not answer, or refused the request; says why."""


def kubeconfig_contexts(kubeconfig: str | None) -> list[str]:
    """The context names of ``kubeconfig`` (None: ``KUBECONFIG`` or ``~/.kube/config``)."""
    paths = kubeconfig or KUBE_CONFIG_DEFAULT_LOCATION
    if not any(os.path.isfile(p) for p in paths.split(ENV_KUBECONFIG_PATH_SEPARATOR) if p):
        # said here, in one sentence; the library would log a warning and then fail
        raise KubeconfigError("no such file")
    try:
        contexts, _ = list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError, ValueError) as exc:
        raise KubeconfigError(" ".join(str(exc).split()) or type(exc).__name__) from None
    return sorted(str(c["name"]) for c in contexts or [])


async def ping(*, name: str, kubeconfig: str | None, context: str, timeout_s: float) -> None:
    """Ask the API server of ``context`` for its core API, once, within ``timeout_s`` seconds.

    Raises KubeconfigError when the context cannot be turned into a client, NoAnswer when
    the server does not answer in time or answers with an error (401, 403, 5xx).
    """
    try:
        async with asyncio.timeout(timeout_s):
            try:
                client = await ClusterClient.open(
                    name=name,
                    kubeconfig=kubeconfig,
                    context=context,
                    retry=RetryPolicy(attempts=1, timeout=timeout_s),
                )
            except (ConfigException, OSError, ValueError) as exc:
                raise KubeconfigError(" ".join(str(exc).split()) or type(exc).__name__) from None
            try:
                await client.resource("v1", "Namespace")
            finally:
                await client.close()
    except TimeoutError:
        raise NoAnswer(f"no answer within {timeout_s:g}s") from None
    except ClusterUnavailable as exc:
        cause = str(exc).split("): ", 1)[-1]  # the cause, without the attempts count
        raise NoAnswer(cause) from None
    except KubeError as exc:
        raise NoAnswer(f"{exc.status} {exc.reason}: {exc.message}") from None
