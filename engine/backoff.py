"""How long to wait before trying again: capped exponential backoff with jitter. Pure.

Where it sits: under everything that retries — the supervisor restarting a failed task, a
live tail re-reading the log, a Kubernetes call (``engine.kube.retry``). The jitter (AWS
architecture blog, "Exponential Backoff And Jitter") keeps processes that fail together
from retrying together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


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
