"""One cluster's API, as the appliers need it: apply, get, list, delete, watch. Retries inside.

Where it sits: called by the appliers' act and observe phases; talks HTTP through the
kubernetes-asyncio REST client (which handles kubeconfig auth and TLS). Each request
has a timeout; 429/5xx answers, timeouts and connection errors are retried per the
:class:`RetryPolicy`; at most ``concurrency`` requests are in flight per cluster. Watches
are long-lived streams outside that limit, not retried here (``engine.kube.watch`` reads
them). A write may carry a guard, awaited right before each attempt is sent (the appliers'
lock fence).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import load_kube_config

from engine.backoff import retry
from engine.kube.errors import ClusterUnavailable, KubeError
from engine.kube.retry import RetryPolicy, is_retryable, retry_after
from engine.kube.watch import WatchEvent, events_of

FIELD_MANAGER = "baton"
_APPLY = "application/apply-patch+yaml"
# the cluster did not answer: worth another try, and after the last, ClusterUnavailable
_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)
WATCH_CONNECTIONS = 32  # room in the pool for watches (one per kind baton applies)

#: awaited right before each attempt of a write is sent; raises to send nothing more
Guard = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Resource:
    """Where objects of one kind live in the API."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection or object path (cluster-wide collection when no namespace)."""
        base = (
            f"/api/{self.api_version}"
            if "/" not in self.api_version
            else (f"/apis/{self.api_version}")
        )
        ns = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{ns}/{self.plural}" + (f"/{name}" if name else "")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call returned and how many attempts it took (retries show in events)."""

    obj: dict[str, Any] | None
    attempts: int


class ClusterClient:
    """The API of one cluster (one kubeconfig context)."""

    def __init__(
        self, *, name: str, api: ApiClient, retry: RetryPolicy, concurrency: int = 32
    ) -> None:
        self.name = name
        self._api = api
        self._retry = retry
        self._slots = asyncio.Semaphore(concurrency)
        self._resources: dict[str, dict[str, Resource]] = {}
        self._rng = random.Random()

    @classmethod
    async def open(
        cls,
        *,
        name: str,
        kubeconfig: str | None,
        context: str | None,
        retry: RetryPolicy | None = None,
        concurrency: int = 32,
    ) -> ClusterClient:
        """A client for `context` of `kubeconfig` (None: the default file or context)."""
        configuration = Configuration()
        await load_kube_config(
            config_file=kubeconfig,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        # one pool per cluster: `concurrency` requests, plus the long-lived watch streams
        configuration.connection_pool_maxsize = concurrency + WATCH_CONNECTIONS
        api = ApiClient(configuration=configuration)
        return cls(name=name, api=api, retry=retry or RetryPolicy(), concurrency=concurrency)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._api.close()

    # --- the verbs ---------------------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> Resource:
        """The resource serving `kind` (discovery, cached per API version)."""
        known = self._resources.get(api_version)
        if known is None:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            listing, _ = await self._call("GET", path, what=f"discover {api_version}")
            known = {
                str(r["kind"]): Resource(
                    api_version, str(r["kind"]), str(r["name"]), bool(r.get("namespaced"))
                )
                for r in (listing or {}).get("resources", [])
                if "/" not in str(r.get("name", ""))
            }
            self._resources[api_version] = known
        if kind not in known:
            raise KubeError(
                status=404,
                reason="NotFound",
                what=f"discover {api_version}",
                message=f"the server does not serve {kind} in {api_version}",
            )
        return known[kind]

    async def apply(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, guard: Guard | None = None
    ) -> Outcome:
        """Server-side apply `obj` as field manager baton, forcing fields baton owns."""
        meta = obj["metadata"]
        rt = await self.resource(str(obj["apiVersion"]), str(obj["kind"]))
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        body, attempts = await self._call(
            "PATCH",
            rt.path(meta.get("namespace"), meta["name"]),
            what=_describe(obj),
            query=query,
            body=dict(obj),
            content_type=_APPLY,
            guard=guard,
        )
        return Outcome(body, attempts)

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Outcome:
        """The live object, or an Outcome with obj None when it does not exist."""
        rt = await self.resource(api_version, kind)
        try:
            body, attempts = await self._call(
                "GET", rt.path(namespace, name), what=f"get {kind} {namespace or ''}/{name}"
            )
        except KubeError as exc:
            if exc.is_not_found:
                return Outcome(None, exc.attempts)
            raise
        return Outcome(body, attempts)

    async def list_objects(
        self, api_version: str, kind: str, *, label_selector: str
    ) -> list[dict[str, Any]]:
        """Every object of `kind` in every namespace matching `label_selector`, paged."""
        return (await self.list_collection(api_version, kind, label_selector=label_selector))[0]

    async def list_collection(
        self, api_version: str, kind: str, *, label_selector: str
    ) -> tuple[list[dict[str, Any]], str]:
        """As :meth:`list_objects`, with the list's resourceVersion (where a watch resumes)."""
        rt = await self.resource(api_version, kind)
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            query = [("labelSelector", label_selector), ("limit", "2000")]
            if token:
                query.append(("continue", token))
            page, _ = await self._call("GET", rt.path(), what=f"list {kind}", query=query)
            page = page or {}
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:  # the first page's version holds for every page of a list
                return items, str(meta.get("resourceVersion", ""))

    async def watch(
        self,
        api_version: str,
        kind: str,
        *,
        label_selector: str,
        resource_version: str,
        timeout_seconds: float,
    ) -> AsyncIterator[WatchEvent]:
        """Events of `kind` (every namespace) after `resource_version`, with bookmarks, until
        the server ends the stream (after `timeout_seconds`). A 410 Gone, as an answer or an
        ERROR event, raises KubeError (``is_gone``): list again, then watch from there."""
        rt = await self.resource(api_version, kind)
        what = f"watch {kind}"
        query = [
            ("watch", "1"),
            ("labelSelector", label_selector),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(max(int(timeout_seconds), 1))),
        ]
        headers = {"Accept": "application/json"}
        await self._api.update_params_for_auth(headers, query, ["BearerToken"])
        try:
            async with asyncio.timeout(self._retry.timeout):  # until the answer's headers
                response = await self._api.rest_client.request(
                    "GET",
                    f"{self._api.configuration.host}{rt.path()}",
                    query_params=cast(Any, query),
                    headers=headers,
                    _preload_content=False,
                    # no read timeout: a quiet kind sends nothing for minutes; the total
                    # bounds a connection that died without a word
                    _request_timeout=timeout_seconds + 30,
                )
            async with response:
                if response.status != 200:
                    error = ApiException(status=response.status, reason=response.reason)
                    error.body = await response.read()
                    reason, message = _status_of(error)
                    raise KubeError(
                        status=response.status, reason=reason, message=message, what=what
                    )
                lines = response.content  # iterates by line, however long
                async for event in events_of(lines, api_version=api_version, kind=kind, what=what):
                    yield event
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ClusterUnavailable(self.name, what, _text(exc), 1) from None

    async def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        guard: Guard | None = None,
    ) -> Outcome:
        """Delete an object (background propagation); a missing object is not an error."""
        rt = await self.resource(api_version, kind)
        try:
            body, attempts = await self._call(
                "DELETE",
                rt.path(namespace, name),
                what=f"delete {kind} {namespace or ''}/{name}",
                body={"propagationPolicy": "Background"},
                guard=guard,
            )
        except KubeError as exc:
            if exc.is_not_found:
                return Outcome(None, exc.attempts)
            raise
        return Outcome(body, attempts)

    # --- one request, retried ----------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
        guard: Guard | None = None,
    ) -> tuple[dict[str, Any] | None, int]:
        policy, tried = self._retry, 0

        async def attempt() -> dict[str, Any] | None:
            nonlocal tried
            tried += 1
            async with self._slots:
                if guard is not None:  # after the wait for a slot: as late as possible
                    await guard()
                return await self._once(method, path, query, body, content_type)

        def wait(attempt: int, exc: BaseException) -> float:
            asked = None
            if isinstance(exc, ApiException) and exc.status == 429:
                asked = retry_after(exc.headers)
            return policy.delay(attempt, retry_after=asked, rng=self._rng)

        try:
            found = await retry(attempt, attempts=policy.attempts, on=_retryable, wait=wait)
        except ApiException as exc:
            reason, message = _status_of(exc)
            status = int(exc.status or 0)
            raise KubeError(
                status=status, reason=reason, message=message, what=what, attempts=tried
            ) from None
        except _UNREACHABLE as exc:
            raise ClusterUnavailable(self.name, what, _text(exc), tried) from None
        return found, tried

    async def _once(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None,
        body: dict[str, Any] | None,
        content_type: str,
    ) -> dict[str, Any] | None:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        queries: list[tuple[str, str]] = list(query or [])
        await self._api.update_params_for_auth(headers, queries, ["BearerToken"])
        response = await self._api.rest_client.request(
            method,
            f"{self._api.configuration.host}{path}",
            query_params=cast(Any, queries),
            headers=headers,
            body=body,
            _request_timeout=self._retry.timeout,
        )
        data = response.data
        return json.loads(data) if data else None


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def _status_of(exc: ApiException) -> tuple[str, str]:
    """The Status object's reason and message, else the HTTP reason."""
    try:
        status = json.loads(exc.body or b"{}")
    except (ValueError, TypeError):
        status = {}
    if not isinstance(status, dict):
        status = {}
    return (
        str(status.get("reason") or exc.reason or "Unknown"),
        str(status.get("message") or exc.reason or ""),
    )


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _retryable(exc: BaseException) -> bool:
    """No answer, or an answer that asks to be asked again (429, 5xx)."""
    if isinstance(exc, ApiException):
        return is_retryable(int(exc.status or 0))
    return isinstance(exc, _UNREACHABLE)
