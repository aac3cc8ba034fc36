"""A small client of baton's REST API, for the CLI and the demo.

Errors come back as `ApiError` carrying the problem details (RFC 9457) the server sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import aiohttp

from engine.telemetry import current_traceparent

DEFAULT_URL = "http://127.0.0.1:8080"
PREFIX = "/api/v1"


@dataclass
class ApiError(Exception):
    """The server refused: HTTP status and problem details."""

    status: int
    problem: dict[str, Any]

    def __str__(self) -> str:
        title = self.problem.get("title") or f"HTTP {self.status}"
        detail = self.problem.get("detail")
        errors = "; ".join(
            f"{e.get('field')}: {e.get('message')}" for e in self.problem.get("errors", [])
        )
        return ": ".join(p for p in (title, detail, errors) if p)


class Client:
    """One session against one baton server, as one token's subject."""

    def __init__(
        self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0
    ) -> None:
        self.url = (url or os.environ.get("BATON_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("BATON_TOKEN")
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
        """Call `PREFIX + path`; return the JSON answer or raise ApiError."""
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        # the caller's trace continues on the server, and into the events it writes
        traceparent = current_traceparent()
        headers = {"traceparent": traceparent} if traceparent else None
        async with self._session.request(
            method, self.url + PREFIX + path, json=json, params=clean, headers=headers
        ) as response:
            if response.content_type.endswith("json"):
                body = await response.json()
            else:
                body = {"title": await response.text()}
            if response.status >= 400:
                raise ApiError(response.status, body if isinstance(body, dict) else {})
            return body

    async def get(self, path: str, **params: Any) -> Any:
        """GET with query parameters."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body."""
        return await self.request("POST", path, json=body)
