"""A realistic event log for benchmarks: many apps, three environments, full promotions.

Events have exactly the shapes the domain writes (a test loads them into aggregates), and
are appended through `baton_append` in large groups, so positions, versions and the hash
chain are the real thing.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

ENVIRONMENTS = ("dev", "staging", "prod")
CONFIG = {
    "environments": [
        {"name": "dev", "policy": {"auto_promote": True}},
        {"name": "staging", "policy": {"auto_promote": True}},
        {"name": "prod", "policy": {"approvals": 1}},
    ]
}
_APPEND = (
    "SELECT count(*) FROM baton_append($1::text[], $2::bigint[], false, $3::int[], $4::text[],"
    " $5::int[], $6::text[]::jsonb[], $7::text[]::jsonb[])"
)

Event = tuple[str, str, dict[str, Any], dict[str, Any]]  # stream, type, data, metadata


def _meta(actor: str, correlation: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"actor": actor}
    if correlation:
        meta["correlation_id"] = correlation
        meta["traceparent"] = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    return meta


class Generator:
    """Yields the events of `apps` apps living through releases, in a plausible order."""

    def __init__(self, apps: int, *, seed: int = 7) -> None:
        self.apps = [f"app-{i:04d}" for i in range(apps)]
        self.random = random.Random(seed)
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.released: dict[str, int] = {}
        self.verified: dict[tuple[str, str], list[str]] = {}

    def _at(self) -> str:
        self.clock += timedelta(milliseconds=self.random.randint(1, 50))
        return self.clock.isoformat()

    def start(self) -> Iterator[Event]:
        """Registration of every app and creation of every target."""
        for app in self.apps:
            yield (
                f"app:{app}",
                "App.Registered",
                {"name": app, "config": CONFIG, "timestamp": self._at()},
                _meta("config"),
            )
            for env in ENVIRONMENTS:
                yield (
                    f"target:{app}:{env}",
                    "Target.Created",
                    {"app": app, "environment": env, "timestamp": self._at()},
                    _meta("applier"),
                )

    def release(self, app: str) -> Iterator[Event]:
        """One release of `app`: commit, release, and its way through the pipeline."""
        number = self.released.get(app, 0) + 1
        self.released[app] = number
        sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        at = self._at()
        yield (
            f"app:{app}",
            "App.CommitObserved",
            {
                "sha": sha,
                "branch_head": sha,
                "author": "dev",
                "author_email": "dev@example.com",
                "authored_at": at,
                "committer": "dev",
                "committer_email": "dev@example.com",
                "committed_at": at,
                "message": f"change {number}",
                "changed_files": ["deploy/a.yaml"],
                "timestamp": at,
            },
            _meta("git-watcher"),
        )
        yield (
            f"app:{app}",
            "App.ReleaseCreated",
            {
                "sha": sha,
                "number": number,
                "digest": uuid.uuid4().hex * 2,
                "message": f"change {number}",
                "author": "dev",
                "committed_at": at,
                "committer": "dev",
                "changed_files": ["deploy/a.yaml"],
                "rendered": {},
                "timestamp": at,
            },
            _meta("git-watcher"),
        )
        for env in ENVIRONMENTS:
            failed = self.random.random() < 0.05
            yield from self._promote(app, env, sha, number, failed)
            if failed:
                yield from self._rollback(app, env, sha)
                return

    def _promote(self, app: str, env: str, sha: str, number: int, failed: bool) -> Iterator[Event]:
        stream, pid = f"target:{app}:{env}", str(uuid.uuid4())
        meta = _meta("alice" if env == "prod" else "promoter", pid)
        approvals = 1 if env == "prod" else 0
        yield (
            stream,
            "Target.PromotionRequested",
            {
                "promotion_id": pid,
                "release": sha,
                "release_number": number,
                "kind": "manual" if env == "prod" else "auto",
                "requested_by": meta["actor"],
                "reason": "",
                "from_environment": None
                if env == "dev"
                else ENVIRONMENTS[ENVIRONMENTS.index(env) - 1],
                "approvals_required": approvals,
                "at": self._at(),
                "timestamp": self._at(),
            },
            meta,
        )
        if approvals:
            yield (
                stream,
                "Target.PromotionApproved",
                {
                    "promotion_id": pid,
                    "by": "bob",
                    "comment": "ok",
                    "at": self._at(),
                    "timestamp": self._at(),
                },
                {**meta, "actor": "bob"},
            )
        yield from self._apply(stream, pid, sha, meta, failed)

    def _apply(
        self, stream: str, pid: str, sha: str, meta: dict[str, Any], failed: bool
    ) -> Iterator[Event]:
        applier = {**meta, "actor": "applier"}
        yield (
            stream,
            "Target.PromotionStarted",
            {"promotion_id": pid, "release": sha, "at": self._at(), "timestamp": self._at()},
            meta,
        )
        yield (
            stream,
            "Target.SyncSucceeded",
            {
                "sync_id": str(uuid.uuid4()),
                "release": sha,
                "objects": [
                    {"kind": k, "namespace": "ns", "name": "web", "action": "configured"}
                    for k in ("Deployment", "Service", "ConfigMap", "ServiceAccount")
                ],
                "at": self._at(),
                "timestamp": self._at(),
            },
            applier,
        )
        yield (
            stream,
            "Target.HealthChanged",
            {
                "previous": "Healthy",
                "health": "Progressing",
                "reasons": ["Deployment/web: 1 of 3 updated replicas are available"],
                "at": self._at(),
                "timestamp": self._at(),
            },
            applier,
        )
        final = "Degraded" if failed else "Healthy"
        yield (
            stream,
            "Target.HealthChanged",
            {
                "previous": "Progressing",
                "health": final,
                "reasons": [],
                "at": self._at(),
                "timestamp": self._at(),
            },
            applier,
        )
        if failed:
            yield (
                stream,
                "Target.PromotionFailed",
                {
                    "promotion_id": pid,
                    "reason": "Degraded after sync",
                    "at": self._at(),
                    "timestamp": self._at(),
                },
                applier,
            )
        else:
            yield (
                stream,
                "Target.PromotionVerified",
                {"promotion_id": pid, "release": sha, "at": self._at(), "timestamp": self._at()},
                applier,
            )
            self.verified.setdefault((stream, ""), []).append(sha)

    def _rollback(self, app: str, env: str, bad: str) -> Iterator[Event]:
        stream = f"target:{app}:{env}"
        good = [s for s in self.verified.get((stream, ""), []) if s != bad]
        if not good:
            return
        pid = str(uuid.uuid4())
        meta = _meta("baton", pid)
        yield (
            stream,
            "Target.PromotionRequested",
            {
                "promotion_id": pid,
                "release": good[-1],
                "release_number": 0,
                "kind": "rollback",
                "requested_by": "baton",
                "reason": "auto-rollback",
                "from_environment": None,
                "approvals_required": 0,
                "at": self._at(),
                "timestamp": self._at(),
            },
            meta,
        )
        yield (
            stream,
            "Target.ReleaseRolledBack",
            {"release": bad, "promotion_id": pid, "timestamp": self._at()},
            meta,
        )
        yield from self._apply(stream, pid, good[-1], meta, False)

    def events(self, total: int) -> Iterator[Event]:
        """About `total` events: every app registered, then releases round-robin."""
        count = 0
        for event in self.start():
            count += 1
            yield event
        while count < total:
            app = self.random.choice(self.apps)
            for event in self.release(app):
                count += 1
                yield event


async def load(conn: asyncpg.Connection, events: Iterator[Event], *, group: int = 2000) -> int:
    """Append the events through baton_append, `group` at a time; returns how many."""
    total, chunk = 0, []
    for event in events:
        chunk.append(event)
        if len(chunk) == group:
            total += await _append(conn, chunk)
            chunk = []
    if chunk:
        total += await _append(conn, chunk)
    return total


async def _append(conn: asyncpg.Connection, chunk: list[Event]) -> int:
    # consecutive events of one stream form one batch of the call
    streams: list[str] = []
    batch_of: list[int] = []
    for stream, *_ in chunk:
        if not streams or streams[-1] != stream:
            streams.append(stream)
        batch_of.append(len(streams))
    await conn.execute(
        _APPEND,
        streams,
        [None] * len(streams),
        batch_of,
        [e[1] for e in chunk],
        [2 if e[1] == "Target.PromotionApproved" else 1 for e in chunk],
        [json.dumps(e[2]) for e in chunk],
        [json.dumps(e[3]) for e in chunk],
    )
    return len(chunk)
