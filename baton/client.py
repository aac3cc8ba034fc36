"""A small client of baton's REST API, for the CLI and the demo.

Errors come back as `ApiError` carrying the problem details (RFC 9457) the server sent.
Every write carries an `Idempotency-Key`, so the one retry after a lost connection (or a
503 while the database restarts) can never do the work twice.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from baton.contexts import resolve
from engine.telemetry import current_traceparent

PREFIX = "/api/v1"
#: how long to wait before the one retry of a write (longer when the server says so)
RETRY_AFTER_S = 1.0


@dataclass
class ApiError(Exception):
    """The server refused: HTTP status and problem details."""

    status: int
    problem: dict[str, Any]
    retry_after: float | None = None

    def __str__(self) -> str:
        # the detail is the specific sentence (the title only names the kind of problem),
        # and where the server lists field errors the detail already says them
        detail = self.problem.get("detail")
        if detail:
            return str(detail)
        errors = "; ".join(
            f"{e.get('field')}: {e.get('message')}" for e in self.problem.get("errors", [])
        )
        return errors or str(self.problem.get("title") or f"HTTP {self.status}")


class Client:
    """One session against one baton server, as one token's subject."""

    def __init__(
        self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0
    ) -> None:
        # what a caller leaves out comes from BATON_URL/BATON_TOKEN or the current context
        server = resolve(url, token)
        self.url = server.url
        self.token = server.token
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._session = aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Call `PREFIX + path`; return the JSON answer or raise ApiError.

        A POST is sent with a fresh Idempotency-Key and, when the connection fails or the
        server answers 503, sent once more with the same key.
        """
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        # the caller's trace continues on the server, and into the events it writes
        traceparent = current_traceparent()
        headers = {"traceparent": traceparent} if traceparent else {}
        if method != "POST":
            return await self._send(method, path, json, clean, headers)
        headers["Idempotency-Key"] = str(uuid.uuid4())
        try:
            return await self._send(method, path, json, clean, headers)
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(RETRY_AFTER_S)
        except ApiError as exc:
            if exc.status != 503:
                raise
            await asyncio.sleep(exc.retry_after or RETRY_AFTER_S)
        return await self._send(method, path, json, clean, headers)

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, str],
        headers: dict[str, str],
    ) -> Any:
        async with self._session.request(
            method, self.url + PREFIX + path, json=json, params=params, headers=headers
        ) as response:
            if response.content_type.endswith("json"):
                body = await response.json()
            else:
                body = {"title": await response.text()}
            if response.status >= 400:
                error = ApiError(response.status, body if isinstance(body, dict) else {})
                error.retry_after = _seconds(response.headers.get("Retry-After"))
                raise error
            return body

    async def get(self, path: str, **params: Any) -> Any:
        """GET with query parameters."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body."""
        return await self.request("POST", path, json=body)


def _seconds(value: str | None) -> float | None:
    """A Retry-After header given in seconds (capped at a minute), else None."""
    if value is None or not value.strip().isdigit():
        return None
    return min(60.0, float(value))
