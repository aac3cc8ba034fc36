"""Background jobs the API starts and clients poll (projection replays).

Where it sits: behind `POST /admin/replay`. A job is an asyncio task in this process,
named after the job, with its state kept in memory: a restart forgets finished jobs,
which is fine for a rebuild whose effect is the rebuilt read models themselves.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)
_KEEP = 100  # finished jobs remembered


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


class JobRegistry:
    """Starts jobs as named tasks and remembers how they ended."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def get(self, job_id: str) -> Job | None:
        """The job, or None."""
        return self._jobs.get(job_id)

    def running(self, kind: str) -> Job | None:
        """A job of `kind` that is still running, if any."""
        return next(
            (j for j in self._jobs.values() if j.kind == kind and not j.state.is_finished), None
        )

    def start(self, *, kind: str, requested_by: str, work: Callable[[], Awaitable[Any]]) -> Job:
        """Run `work` in the background as a new job."""
        job = Job(id=str(uuid.uuid4()), kind=kind, requested_by=requested_by)
        self._jobs[job.id] = job
        self._tasks[job.id] = asyncio.create_task(self._run(job, work), name=f"job:{kind}:{job.id}")
        self._forget_old()
        return job

    async def _run(self, job: Job, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            result = await work()
        except asyncio.CancelledError:
            self._finish(job.id, state=JobState.FAILED, error="cancelled at shutdown")
            raise
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            self._finish(job.id, state=JobState.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            self._finish(job.id, state=JobState.SUCCEEDED, result=result)
        finally:
            self._tasks.pop(job.id, None)

    def _finish(self, job_id: str, **changes: Any) -> None:
        self._jobs[job_id] = replace(self._jobs[job_id], finished_at=datetime.now(UTC), **changes)

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state.is_finished]
        for job in finished[: max(0, len(finished) - _KEEP)]:
            del self._jobs[job.id]

    async def close(self) -> None:
        """Cancel running jobs and wait for them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
