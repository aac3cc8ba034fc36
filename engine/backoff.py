"""Trying again: how long to wait (capped exponential backoff with jitter), and one retry helper.

Where it sits: under everything that retries — a command that lost a race to another
writer, a Kubernetes call (``engine.kube``), a render that met a Git lock, the read models'
swap — through :func:`retry` (on tenacity); and under the loops that are not retries but
wait after a failure — the supervisor restarting a task, a live tail re-reading the log,
a projection that failed on an event, a target worker's next pass — through
:class:`Backoff` and :func:`full_jitter`. The jitter (AWS architecture blog,
"Exponential Backoff And Jitter") keeps processes that fail together from retrying together.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
)

T = TypeVar("T")
#: what is worth another try: exception types, or a test of the exception
Retryable = type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
#: seconds to wait after failed attempt number `n` (1-based), which raised `error`
Wait = Callable[[int, BaseException], float]


def full_jitter(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """A uniform draw between 0 and the capped exponential for attempt `attempt` (1-based)."""
    return rng.uniform(0, capped(attempt, base=base, cap=cap))


def capped(attempt: int, *, base: float, cap: float) -> float:
    """`base` doubled per attempt after the first (1-based), never over `cap`."""
    return min(cap, base * 2.0 ** (max(attempt, 1) - 1))


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Capped exponential backoff with equal jitter: half the bound, plus up to half more.

    Equal rather than full jitter: a task that fails at once still waits at least half the
    bound, so a broken task never spins, and successive waits grow.
    """

    base: float = 0.1  # seconds: the bound of the first wait
    cap: float = 5.0  # seconds: no wait is longer
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        bound = capped(attempt, base=self.base, cap=self.cap)
        return bound / 2 + self.rng.uniform(0, bound / 2)


async def retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    on: Retryable,
    wait: Wait | None = None,
) -> T:
    """Await `attempt()`, again after each failure `on` names, `attempts` times in all.

    The last failure, or one not named, is raised as it was. Between tries: `wait`'s
    seconds, or none (a lost race is worth another go at once).
    """
    # The first try is made here, not by tenacity: nearly every call succeeds at once, and
    # tenacity's bookkeeping (some 80 µs a call) would be paid by every request and apply.
    try:
        return await attempt()
    except BaseException as exc:
        if attempts <= 1 or not _named(on, exc):
            raise
        first = exc
    if wait is not None:
        await asyncio.sleep(wait(1, first))
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts - 1),
        retry=(
            retry_if_exception_type(on) if isinstance(on, type | tuple) else retry_if_exception(on)
        ),
        wait=_waiting(wait),
        reraise=True,
    )
    async for trying in retrying:
        with trying:
            return await attempt()
    raise AssertionError("unreachable: tenacity stops by raising")


def _named(on: Retryable, exc: BaseException) -> bool:
    return isinstance(exc, on) if isinstance(on, type | tuple) else on(exc)


def _waiting(wait: Wait | None) -> Callable[[RetryCallState], float]:
    def seconds(state: RetryCallState) -> float:
        if wait is None or state.outcome is None:
            return 0.0
        error = state.outcome.exception()
        assert error is not None  # only failures are retried
        # tenacity counts from the second try, made after the first failed here
        return wait(state.attempt_number + 1, error)

    return seconds
