"""The four DORA keys from a target's facts: pure arithmetic, no database.

Where it sits: `projections.insights` fetches the facts of a window from the log and hands
them here; this module counts, buckets and takes percentiles. The definitions (README,
"Insights"):

- a **deployment** is a promotion verified in the environment (its release healthy for
  the soak time), rollbacks included: they too put a release into service;
- **lead time** runs from the release's commit time (`committed_at` of
  `App.ReleaseCreated`) to its verification, for deployments that are not rollbacks (a
  rollback redeploys an old commit: its "lead time" would be that commit's age);
- **change failure rate** is failed changes ÷ changes started: a change is a promotion
  (not a rollback) started in the window; it failed when it ended failed, or when a
  rollback later removed its release from the environment. Each change counts once, in
  the bucket where it started;
- **time to restore** runs from the start of an incident (a promotion failed, a rollback
  asked for, or health turned Degraded, whichever comes first) to the first Healthy or
  verified promotion after it in that environment. An incident counts in the bucket where
  it began; one still open at the window's end is counted as unrestored.

A fact counts when its time (the event's `at`) lies in [since, until).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from engine.domain.enums import Health, PromotionKind
from engine.domain.vocabulary import EventType

DAY = timedelta(days=1)
#: a window up to this long is bucketed by day by default, a longer one by week
DAILY_UP_TO = timedelta(days=31)


class Bucket(StrEnum):
    """How a window is cut for the per-bucket series."""

    DAY = "day"
    WEEK = "week"

    @property
    def length(self) -> timedelta:
        """The length of one bucket."""
        return DAY if self is Bucket.DAY else 7 * DAY

    def floor(self, at: datetime) -> datetime:
        """The start of the bucket holding `at` (UTC midnight; weeks start on Monday)."""
        utc = at.astimezone(UTC)
        day = datetime(utc.year, utc.month, utc.day, tzinfo=UTC)
        return day if self is Bucket.DAY else day - utc.weekday() * DAY

    @staticmethod
    def default_for(since: datetime, until: datetime) -> Bucket:
        """Days for a window of a month or less, weeks beyond."""
        return Bucket.DAY if until - since <= DAILY_UP_TO else Bucket.WEEK


@dataclass(frozen=True, kw_only=True)
class Window:
    """[since, until), cut into buckets."""

    since: datetime
    until: datetime
    bucket: Bucket

    @property
    def days(self) -> float:
        """The window's length in days."""
        return (self.until - self.since) / DAY

    def holds(self, at: datetime) -> bool:
        """True when `at` lies in the window."""
        return self.since <= at < self.until

    def starts(self) -> list[datetime]:
        """The start of every bucket that overlaps the window."""
        first, found = self.bucket.floor(self.since), []
        while first < self.until:
            found.append(first)
            first += self.bucket.length
        return found


@dataclass(frozen=True, kw_only=True)
class Fact:
    """One event of a target that a key reads, as the log's query returns it."""

    app: str
    environment: str
    type: EventType
    at: datetime
    promotion_id: str | None = None
    release: str | None = None
    #: the promotion's kind (Started, Verified, Failed, Requested)
    kind: str | None = None
    #: HealthChanged's new health
    health: str | None = None
    #: the commit time of the release (Verified)
    committed_at: datetime | None = None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100), linear between the closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate(part: int, whole: int) -> float | None:
    """part ÷ whole, or None when there is no whole."""
    return part / whole if whole else None


@dataclass
class _Tally:
    """What one bucket (or the whole window) of one target counts."""

    deployments: int = 0
    lead_times: list[float] = field(default_factory=list)
    started: int = 0
    failed: int = 0
    incidents: int = 0
    restores: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | None]:
        """The bucket's numbers, as the API gives them."""
        return {
            "deployments": self.deployments,
            "lead_time_p50_seconds": percentile(self.lead_times, 50),
            "started": self.started,
            "failed": self.failed,
            "change_failure_rate": rate(self.failed, self.started),
            "incidents": self.incidents,
            "restored": len(self.restores),
            "restore_p50_seconds": percentile(self.restores, 50),
        }


@dataclass
class _Target:
    """The fold of one target's facts, in log order."""

    window: Window
    total: _Tally = field(default_factory=_Tally)
    buckets: dict[datetime, _Tally] = field(default_factory=dict)
    #: changes started in the window: promotion id → bucket, and whether it failed
    changes: dict[str, tuple[datetime, bool]] = field(default_factory=dict)
    #: release → the latest change (promotion id) that started it
    latest_change: dict[str, str] = field(default_factory=dict)
    #: the open incident's start
    incident: datetime | None = None

    def tally(self, at: datetime) -> _Tally:
        start = self.window.bucket.floor(at)
        return self.buckets.setdefault(start, _Tally())

    def _both(self, at: datetime) -> tuple[_Tally, _Tally]:
        return self.total, self.tally(at)

    def _change_failed(self, promotion_id: str | None) -> None:
        if promotion_id is None or promotion_id not in self.changes:
            return
        start, failed = self.changes[promotion_id]
        if not failed:
            self.changes[promotion_id] = (start, True)
            for t in self._both(start):
                t.failed += 1

    def _begin_incident(self, at: datetime) -> None:
        if self.incident is None:
            self.incident = at
            for t in self._both(at):
                t.incidents += 1

    def _restore(self, at: datetime) -> None:
        if self.incident is not None:
            seconds = (at - self.incident).total_seconds()
            for t in self._both(self.incident):
                t.restores.append(seconds)
            self.incident = None

    def add(self, fact: Fact) -> None:
        """Fold one fact in."""
        rollback = fact.kind == PromotionKind.ROLLBACK
        if fact.type is EventType.PROMOTION_STARTED and not rollback and fact.promotion_id:
            self.changes[fact.promotion_id] = (self.window.bucket.floor(fact.at), False)
            if fact.release is not None:
                self.latest_change[fact.release] = fact.promotion_id
            for t in self._both(fact.at):
                t.started += 1
        elif fact.type is EventType.PROMOTION_FAILED:
            self._change_failed(fact.promotion_id)
            self._begin_incident(fact.at)
        elif fact.type is EventType.PROMOTION_REQUESTED and rollback:
            self._begin_incident(fact.at)
        elif fact.type is EventType.RELEASE_ROLLED_BACK and fact.release is not None:
            self._change_failed(self.latest_change.get(fact.release))
        elif fact.type is EventType.HEALTH_CHANGED:
            if fact.health == Health.DEGRADED:
                self._begin_incident(fact.at)
            elif fact.health == Health.HEALTHY:
                self._restore(fact.at)
        elif fact.type is EventType.PROMOTION_VERIFIED:
            self._deployed(fact, rollback=rollback)

    def _deployed(self, fact: Fact, *, rollback: bool) -> None:
        lead = None
        if not rollback and fact.committed_at is not None and fact.committed_at <= fact.at:
            lead = (fact.at - fact.committed_at).total_seconds()
        for t in self._both(fact.at):
            t.deployments += 1
            if lead is not None:
                t.lead_times.append(lead)
        self._restore(fact.at)

    def to_json(self, app: str, environment: str) -> dict[str, object]:
        """The four keys over the window, and per bucket."""
        total = self.total
        return {
            "app": app,
            "environment": environment,
            "deployments": {
                "count": total.deployments,
                "per_day": total.deployments / self.window.days,
            },
            "lead_time": {
                "count": len(total.lead_times),
                "p50_seconds": percentile(total.lead_times, 50),
                "p90_seconds": percentile(total.lead_times, 90),
            },
            "change_failure": {
                "started": total.started,
                "failed": total.failed,
                "rate": rate(total.failed, total.started),
            },
            "restore": {
                "incidents": total.incidents,
                "restored": len(total.restores),
                "p50_seconds": percentile(total.restores, 50),
                "mean_seconds": sum(total.restores) / len(total.restores)
                if total.restores
                else None,
            },
            "buckets": [
                {"start": start, **self.buckets.get(start, _Tally()).summary()}
                for start in self.window.starts()
            ],
        }


def compute(
    facts: Iterable[Fact], *, window: Window, targets: Iterable[tuple[str, str]] = ()
) -> list[dict[str, object]]:
    """The four keys of each target, sorted by app and environment.

    `facts` come in log order; `targets` are listed even when nothing happened in them.
    """
    folds: dict[tuple[str, str], _Target] = {key: _Target(window) for key in targets}
    for fact in facts:
        if window.holds(fact.at):
            key = (fact.app, fact.environment)
            folds.setdefault(key, _Target(window)).add(fact)
    return [folds[key].to_json(*key) for key in sorted(folds)]
