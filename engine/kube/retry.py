"""When to try a Kubernetes call again and how long to wait first. Pure.

Exponential backoff with full jitter (AWS architecture blog's "full jitter"), capped;
a 429's Retry-After wins over the computed delay when it is longer.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from engine.backoff import full_jitter


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry one call."""

    attempts: int = 6
    base: float = 0.05  # seconds before the second attempt (times jitter)
    cap: float = 5.0  # never wait longer than this between attempts
    timeout: float = 10.0  # seconds per request
    retry_after_cap: float = 30.0  # a server asking for more is capped to this

    def delay(self, attempt: int, *, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        computed = full_jitter(attempt, base=self.base, cap=self.cap, rng=rng)
        if retry_after is not None:
            return max(computed, min(retry_after, self.retry_after_cap))
        return computed


def is_retryable(status: int) -> bool:
    """429 and 5xx are worth another try; other statuses are answers."""
    return status == 429 or status >= 500


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header (the delta-seconds form), if any."""
    if not headers:
        return None
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
