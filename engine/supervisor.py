"""The supervisor: every long-lived task of a baton process, named, restarted, observed.

Where it sits: created once per process in the composition root (``baton.service.serve.running``,
or ``api.app.init_app`` for an API on its own) and handed to what runs in the background:
the Git watcher and its per-app loops, the appliers (lock, wake, sweep and refresh loops,
the promoter, one worker per target held), the projection runner and its per-projection
loops, the metrics feed, the LISTEN keepers (``engine.store.listen``), the extra HTTP
processes of ``serve --workers``. Each task is started from a factory, so that a task that raises
is started again, after a capped exponential backoff with jitter (``engine.backoff``); a
task that returns is done. A failing task never cancels another. One warning when a task
stops working, one info line when it works again (it ran :attr:`healthy_after` seconds
without failing, or reported :meth:`Supervisor.progress`), never one per retry. States
feed ``/readyz`` and the ``baton_task_up`` / ``baton_task_restarts`` metrics.
:meth:`Supervisor.stop` cancels them all and waits, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from engine.backoff import Backoff
from engine.metrics import TASK_RESTARTS, TASK_UP

log = logging.getLogger(__name__)

#: what starts (and restarts) a task: called anew for each run
Factory = Callable[[], Awaitable[None]]


class TaskState(StrEnum):
    """Where a supervised task is."""

    RUNNING = "running"
    FAILING = "failing"  # it raised; it is waiting to be started again, or just was
    STOPPED = "stopped"  # it returned, or was cancelled

    @property
    def is_up(self) -> bool:
        """True while the task runs without failing."""
        return self is TaskState.RUNNING


class Restart(StrEnum):
    """When a task is started again."""

    ON_FAILURE = "on-failure"  # after it raised; a return means it is done
    ALWAYS = "always"  # also after it returned


@dataclass(frozen=True, kw_only=True)
class TaskStatus:
    """One task's state, as ``/readyz`` shows it."""

    name: str
    state: TaskState
    restarts: int
    failing_since: datetime | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        """The status as JSON-ready values."""
        return {
            "state": self.state.value,
            "restarts": self.restarts,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
            "last_error": self.last_error,
        }


@dataclass(kw_only=True)
class _Child:
    """A supervised task and what the supervisor knows about it."""

    name: str
    factory: Factory
    restart: Restart
    state: TaskState = TaskState.RUNNING
    restarts: int = 0
    failures: int = 0  # failures since it last worked: the backoff's attempt number
    failing_since: datetime | None = None
    last_error: str | None = None
    task: asyncio.Task[None] | None = None
    healthy_timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def status(self) -> TaskStatus:
        return TaskStatus(
            name=self.name,
            state=self.state,
            restarts=self.restarts,
            failing_since=self.failing_since,
            last_error=self.last_error,
        )


class Supervisor:
    """Runs named long-lived tasks; restarts the ones that fail; stops them all, bounded."""

    def __init__(self, *, backoff: Backoff | None = None, healthy_after: float = 5.0) -> None:
        self.backoff = backoff or Backoff()
        #: seconds a restarted task must run without failing to count as recovered
        self.healthy_after = healthy_after
        self._children: dict[str, _Child] = {}
        self._stopping = False

    def start(self, name: str, factory: Factory, *, restart: Restart = Restart.ON_FAILURE) -> None:
        """Run `factory()` as the task `name`, again after each failure (see `restart`)."""
        if self._stopping:
            raise RuntimeError(f"the supervisor is stopping; {name} not started")
        old = self._children.get(name)
        if old is not None and old.task is not None and not old.task.done():
            raise ValueError(f"a task named {name!r} is running already")
        child = _Child(name=name, factory=factory, restart=restart)
        self._children[name] = child
        TASK_UP.labels(name).set(1)
        TASK_RESTARTS.labels(name)  # 0 from the start, so that rates see the first restart
        child.task = asyncio.create_task(self._supervise(child), name=name)

    def running(self, name: str) -> bool:
        """True while the task `name` is supervised and not finished (failing counts)."""
        child = self._children.get(name)
        return child is not None and child.task is not None and not child.task.done()

    async def wait_ended(self, names: Iterable[str], *, within: float) -> None:
        """Wait until the tasks `names` have ended by themselves, at most `within` seconds."""
        tasks = {
            child.task
            for name in names
            if (child := self._children.get(name)) is not None and child.task is not None
        }
        if tasks:
            await asyncio.wait(tasks, timeout=within)

    def progress(self, name: str) -> None:
        """The task `name` did useful work: a failing one counts as recovered now."""
        child = self._children.get(name)
        if child is not None and child.state is TaskState.FAILING:
            self._recovered(child)

    def status(self, name: str) -> TaskStatus:
        """The state of the task `name` (KeyError when there is none)."""
        return self._children[name].status()

    def statuses(self) -> list[TaskStatus]:
        """Every supervised task's state, by name."""
        return [self._children[n].status() for n in sorted(self._children)]

    async def remove(self, name: str, *, grace: float = 5.0) -> None:
        """Cancel the task `name`, wait for it (at most `grace` seconds) and forget it."""
        child = self._children.pop(name, None)
        if child is None:
            return
        _forget_metrics(name)
        if child.task is not None:
            await _cancel({child.task}, grace=grace)

    async def stop(self, grace: float = 10.0) -> None:
        """Cancel every task and wait for them, at most `grace` seconds in all."""
        self._stopping = True
        tasks = {c.task for c in self._children.values() if c.task is not None}
        late = await _cancel(tasks, grace=grace)
        for task in late:
            log.warning("task %s did not stop within %.1fs", task.get_name(), grace)
        for name in self._children:
            _forget_metrics(name)
        self._children.clear()

    async def _supervise(self, child: _Child) -> None:
        try:
            while True:
                error = await _run_once(child)
                if _cancelling():
                    # a cancellation swallowed by the task (Python 3.11's wait_for) still stops it
                    raise asyncio.CancelledError()
                if error is None and child.restart is Restart.ON_FAILURE:
                    if child.state is TaskState.FAILING:
                        self._recovered(child)
                    child.state = TaskState.STOPPED
                    TASK_UP.labels(child.name).set(0)
                    return
                if error is not None:
                    self._failed(child, error)
                await asyncio.sleep(self.backoff.delay(max(child.failures, 1)))
                child.restarts += 1
                TASK_RESTARTS.labels(child.name).inc()
                self._watch_health(child)
        finally:
            _cancel_timer(child)
            if child.state is not TaskState.FAILING:
                child.state = TaskState.STOPPED
            if self._children.get(child.name) is child:
                TASK_UP.labels(child.name).set(0)

    def _failed(self, child: _Child, error: Exception) -> None:
        _cancel_timer(child)
        child.failures += 1
        child.last_error = f"{type(error).__name__}: {error}"
        log.debug("task %s failed (attempt %d)", child.name, child.failures, exc_info=error)
        if child.state is not TaskState.FAILING:
            child.state = TaskState.FAILING
            child.failing_since = datetime.now(UTC)
            TASK_UP.labels(child.name).set(0)
            log.warning("task %s stopped working: %s; restarting it", child.name, child.last_error)

    def _watch_health(self, child: _Child) -> None:
        """After a restart: recovered once it has run `healthy_after` seconds unharmed."""
        _cancel_timer(child)
        loop = asyncio.get_running_loop()
        child.healthy_timer = loop.call_later(self.healthy_after, self._recovered, child)

    def _recovered(self, child: _Child) -> None:
        _cancel_timer(child)
        if child.state is not TaskState.FAILING:
            return
        since = child.failing_since
        seconds = (datetime.now(UTC) - since).total_seconds() if since else 0.0
        log.info(
            "task %s recovered after %d restart(s), %.1fs after it stopped working",
            child.name,
            child.restarts,
            seconds,
        )
        child.state, child.failures, child.failing_since = TaskState.RUNNING, 0, None
        if self._children.get(child.name) is child:
            TASK_UP.labels(child.name).set(1)


async def supervised_until_cancelled(
    start: Callable[[Supervisor], Awaitable[None]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Run what `start` starts on a supervisor of its own until cancelled; then `stop` it."""
    supervisor = Supervisor()
    try:
        await start(supervisor)
        await asyncio.Event().wait()
    finally:
        try:
            await stop()
        finally:
            await supervisor.stop()


async def _run_once(child: _Child) -> Exception | None:
    """Run the task once; what it raised (cancellation goes through)."""
    try:
        await child.factory()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return exc
    return None


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _cancel_timer(child: _Child) -> None:
    if child.healthy_timer is not None:
        child.healthy_timer.cancel()
        child.healthy_timer = None


def _forget_metrics(name: str) -> None:
    for metric in (TASK_UP, TASK_RESTARTS):
        with contextlib.suppress(KeyError):
            metric.remove(name)


async def _cancel(tasks: set[asyncio.Task[None]], *, grace: float) -> set[asyncio.Task[None]]:
    """Cancel `tasks` until they end or `grace` seconds pass; the ones still running.

    Cancelled again every 0.1 s: on Python 3.11 one cancel can be swallowed by a
    ``wait_for`` racing with what it waits for. A task cancelling itself is not waited for.
    """
    me = asyncio.current_task()
    pending = {t for t in tasks if t is not me and not t.done()}
    if me in tasks:
        me.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.1, left))
    return pending
