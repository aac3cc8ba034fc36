"""Background jobs the API starts and clients poll (projection replays).

Where it sits: behind `POST /admin/replay`. A job runs as an asyncio task in the process
that started it; its state is a row of the `jobs` table (migration 007_jobs.sql), so that
every API process answers a poll the same and only one job of a kind runs at a time among
them all. The task holds a database connection for its whole run, whose backend is the
row's owner: when the process dies, the backend goes, and whichever process looks next
marks the job failed instead of leaving it running for ever.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from engine.store.database import Pool

log = logging.getLogger(__name__)
#: an asyncpg connection of the pool (the API does not import asyncpg itself)
Connection = Any
# Finished jobs kept per kind: a replay is an operator's occasional action, but a table
# written on every one should not grow without end; 100 is more history than anyone polls.
_KEEP = 100
DIED = "the process running it stopped before it finished"
CANCELLED = "cancelled at shutdown"

_COLUMNS = "id, kind, requested_by, state, started_at, finished_at, result, error"
# Reaped: a running job that no live backend owns, none having its pid, or the one that has
# it having started later (pids are reused). A role that may not see another role's
# sessions reads their start as NULL: then the pid alone decides.
_REAP = """
UPDATE jobs SET state = 'failed', finished_at = now(), error = $1
 WHERE state = 'running'
   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                    WHERE a.pid = jobs.owner_pid
                      AND (a.backend_start IS NULL OR a.backend_start = jobs.owner_started_at))
"""
_INSERT = f"""
INSERT INTO jobs (id, kind, requested_by, owner_pid, owner_started_at)
VALUES ($1, $2, $3, pg_backend_pid(),
        (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()))
    ON CONFLICT (kind) WHERE state = 'running' DO NOTHING
RETURNING {_COLUMNS}
"""
_RUNNING = f"SELECT {_COLUMNS} FROM jobs WHERE kind = $1 AND state = 'running'"
_GET = f"SELECT {_COLUMNS} FROM jobs WHERE id = $1"
# by id alone: a job reaped while this process lost its owner connection still ends up with
# what really happened to it
_FINISH = """
UPDATE jobs SET state = $2, finished_at = now(), result = $3, error = $4 WHERE id = $1
"""
_PRUNE = """
DELETE FROM jobs
 WHERE kind = $1 AND state <> 'running'
   AND id NOT IN (SELECT id FROM jobs WHERE kind = $1 AND state <> 'running'
                   ORDER BY started_at DESC LIMIT $2)
"""


class JobState(StrEnum):
    """Where a job is."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_finished(self) -> bool:
        """True once the job will not change again."""
        return self is not JobState.RUNNING


@dataclass(frozen=True, kw_only=True)
class Job:
    """One job's state."""

    id: str
    kind: str
    requested_by: str
    state: JobState = JobState.RUNNING
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    result: Any = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        """The job a `jobs` row holds."""
        return cls(
            id=str(row["id"]),
            kind=row["kind"],
            requested_by=row["requested_by"],
            state=JobState(row["state"]),
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            result=row["result"],
            error=row["error"],
        )

    def to_json(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "requested_by": self.requested_by,
            "state": self.state.value,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "result": self.result,
            "error": self.error,
        }


class JobRunning(Exception):
    """`start` refused: a job of that kind is running (in this process or another)."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} ({job.kind}) is still running")
        self.job = job


@dataclass(frozen=True)
class _Run:
    """A job this process runs, and the connection whose backend owns its row."""

    job: Job
    owner: Connection
    task: asyncio.Task[None]


class JobRegistry:
    """Starts jobs as named tasks; their state lives in the `jobs` table."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._runs: dict[str, _Run] = {}

    async def get(self, job_id: str) -> Job | None:
        """The job, or None (also for an id that is not a UUID)."""
        try:
            key = uuid.UUID(job_id)
        except ValueError:
            return None
        async with self._pool.acquire() as conn:
            await _reap(conn)
            row = await conn.fetchrow(_GET, key)
        return None if row is None else Job.from_row(row)

    async def start(
        self, *, kind: str, requested_by: str, work: Callable[[], Awaitable[Any]]
    ) -> Job:
        """Run `work` in the background as a new job; `JobRunning` if one of `kind` runs."""
        owner = await self._pool.acquire()
        try:
            job = await _claim(owner, kind=kind, requested_by=requested_by)
        except BaseException:
            await self._pool.release(owner)
            raise
        task = asyncio.create_task(self._run(job, work), name=f"job:{kind}:{job.id}")
        self._runs[job.id] = _Run(job, owner, task)
        return job

    async def _run(self, job: Job, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            result = await work()
        except asyncio.CancelledError:
            await self._end(job.id, JobState.FAILED, error=CANCELLED)
            raise
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            await self._end(job.id, JobState.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            await self._end(job.id, JobState.SUCCEEDED, result=result)

    async def _end(
        self, job_id: str, state: JobState, *, result: Any = None, error: str | None = None
    ) -> None:
        """Record how a job ended and give its connection back, once."""
        run = self._runs.pop(job_id, None)
        if run is None:
            return
        recorded = False
        try:
            recorded = await _record(run.owner, run.job, state, result=result, error=error)
        finally:
            if not recorded:
                # the row still names this backend, alive in the pool: ending it lets
                # the next look at the job reap it rather than see it running for ever
                run.owner.terminate()
            await self._pool.release(run.owner)

    async def close(self) -> None:
        """Cancel this process's running jobs (recorded as failed) and wait for them."""
        runs = list(self._runs.values())
        for run in runs:
            run.task.cancel()
        await asyncio.gather(*(run.task for run in runs), return_exceptions=True)
        # a task cancelled before its first step ran none of its code, so nothing of its own
        # ended it: the pool's close would wait for ever for its connection
        for job_id in list(self._runs):
            await self._end(job_id, JobState.FAILED, error=CANCELLED)


async def _reap(conn: Connection) -> None:
    """Mark failed the running jobs whose owner backend is gone."""
    await conn.execute(_REAP, DIED)


async def _claim(conn: Connection, *, kind: str, requested_by: str) -> Job:
    """Insert a running job owned by `conn`'s backend, or raise `JobRunning`."""
    while True:
        await _reap(conn)
        row = await conn.fetchrow(_INSERT, uuid.uuid4(), kind, requested_by)
        if row is not None:
            return Job.from_row(row)
        running = await conn.fetchrow(_RUNNING, kind)
        if running is not None:
            raise JobRunning(Job.from_row(running))
        # the running job finished between the insert and the select: try again


async def _record(
    conn: Connection, job: Job, state: JobState, *, result: Any = None, error: str | None = None
) -> bool:
    """Write how the job ended (and forget old ones); False when that failed."""
    try:
        async with conn.transaction():
            await conn.execute(_FINISH, uuid.UUID(job.id), state.value, result, error)
            await conn.execute(_PRUNE, job.kind, _KEEP)
    except Exception:
        log.exception("could not record the end of job %s (%s)", job.id, job.kind)
        return False
    return True
