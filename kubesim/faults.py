"""Fault injection: latency, 5xx answers, 429 throttling and dropped watch connections.

`server.py` consults a cluster's `Faults` before each API request (discovery is spared
unless asked), and `watch.py` ends streams early when `watch_drop_after` is set. Settable
from Python at any time (the fields are read per request) and from the command line.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from enum import StrEnum

from kubesim.errors import ApiError, StatusReason


class DropMode(StrEnum):
    """How an injected watch drop looks to the client."""

    END = "end"  # the stream ends cleanly, as after a server-side timeout
    RESET = "reset"  # the connection is aborted mid-stream (a truncated chunked body)

    @property
    def is_abrupt(self) -> bool:
        """Whether the client sees a transport error rather than an end of stream."""
        return self is DropMode.RESET


@dataclass
class Faults:
    """What goes wrong, and how often, on one cluster."""

    latency: float = 0.0  # seconds added to every request
    jitter: float = 0.0  # up to this many more seconds, uniformly
    error_rate: float = 0.0  # share of requests answered 500 or 503 (half each)
    throttle_rate: float = 0.0  # share of requests answered 429 with Retry-After
    retry_after: int = 1  # seconds, in the Retry-After header of 429s
    watch_drop_after: float | None = None  # seconds after which a watch stream is cut
    watch_drop_mode: DropMode = DropMode.END
    include_discovery: bool = False  # whether discovery requests suffer too
    methods: frozenset[str] = frozenset()  # HTTP methods that suffer; empty: all
    seed: int | None = None
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random.seed(self.seed)

    def reset(self) -> None:
        """No more faults."""
        self.latency = self.jitter = self.error_rate = self.throttle_rate = 0.0
        self.watch_drop_after = None

    @property
    def active(self) -> bool:
        """Whether any request-level fault is configured."""
        return bool(self.latency or self.jitter or self.error_rate or self.throttle_rate)

    async def before_request(self, *, discovery: bool, method: str = "GET") -> None:
        """Sleep and/or raise the injected error for one request."""
        if discovery and not self.include_discovery:
            return
        if self.methods and method not in self.methods:
            return
        delay = self.latency + (self._random.uniform(0, self.jitter) if self.jitter else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        roll = self._random.random()
        if roll < self.throttle_rate:
            raise ApiError(
                429,
                StatusReason.TOO_MANY_REQUESTS,
                "Too many requests, please try again later.",
                details={"retryAfterSeconds": self.retry_after},
                headers={"Retry-After": str(self.retry_after)},
            )
        roll -= self.throttle_rate
        if roll < self.error_rate:
            if roll < self.error_rate / 2:
                raise ApiError(
                    500, StatusReason.INTERNAL_ERROR, "Internal error occurred: injected fault"
                )
            raise ApiError(
                503,
                StatusReason.SERVICE_UNAVAILABLE,
                "The server is currently unable to handle the request (injected)",
            )
