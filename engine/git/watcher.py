"""The Git watcher: poll every app's repository and record what is new.

Where it sits: the start of the flow (Git repo → watcher → ``CommitObserved`` /
``ReleaseCreated`` → store). Each app has its own loop, a task of the process's
supervisor (``git-watch:<app>``), that polls on its interval or when asked
(:meth:`GitWatcher.request_poll`, for webhooks). One poll:

1. observe — ``ls-remote`` the branch head (cheap); stop if it is the head already
   recorded; else fetch;
2. plan — :func:`engine.git.plan.plan_poll` against the state the store holds;
3. record — pin the new commits in the mirror, then hand the plan to the
   :class:`SourceRecorder` (the App aggregate through the repository).

Each phase is one span under the poll's ``git.poll`` span; the recorder puts the trace
context into the events' metadata.

GitPython blocks, so steps 1 and 2 run in a thread pool. A broken repository
(unreachable, bad credentials, corrupt) fails only its own poll: the reason, redacted,
is logged and kept in :meth:`GitWatcher.status`; the other apps go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import StatusCode

from engine.domain.pipeline import AppSpec
from engine.git.credentials import CredentialsError, GitAuth, resolve_auth
from engine.git.manifests import mirror_path
from engine.git.mirror import NETWORK_TIMEOUT_S, GitSourceError, Mirror
from engine.git.plan import SourcePlan, SourceState, plan_poll
from engine.metrics import GIT_POLL_ERRORS
from engine.supervisor import Supervisor, supervised_until_cancelled

DEFAULT_INTERVAL = timedelta(seconds=30)
# Git's own network calls are bounded in the mirror; this bounds the store's side.
RECORD_TIMEOUT_S = 60.0
T = TypeVar("T")
log = logging.getLogger(__name__)
tracer = trace.get_tracer("baton.git")


class SourceRecorder(Protocol):
    """Where the watcher reads what is stored and records what it found."""

    async def source_state(self, app: AppSpec) -> SourceState:
        """The branch head recorded last and the shas already released or rejected."""
        ...

    async def record(self, app: AppSpec, plan: SourcePlan) -> None:
        """Record the plan as events; must ignore shas recorded meanwhile."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    """What one poll of one app did."""

    app: str
    ok: bool
    head: str | None = None
    changed: bool = False
    released: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    rewritten_from: str | None = None
    reason: str | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class _AppSlot:
    """Per-app runtime: its spec, mirror, lock, wake-up event, last result."""

    spec: AppSpec
    mirror: Mirror
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    recorded_head: str | None = None  # only a head confirmed against the store
    last: PollResult | None = None


class GitWatcher:
    """Watches the Git source of every app and records releases through a recorder."""

    def __init__(
        self,
        *,
        apps: Iterable[AppSpec],
        home: Path,
        recorder: SourceRecorder,
        interval: timedelta = DEFAULT_INTERVAL,
        max_workers: int = 8,
        network_timeout: timedelta = timedelta(seconds=NETWORK_TIMEOUT_S),
    ) -> None:
        self._home = home
        self._network_timeout_s = network_timeout.total_seconds()
        self._recorder = recorder
        self._interval = interval
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="git")
        self._slots = {spec.name: _AppSlot(spec=spec, mirror=self._mirror(spec)) for spec in apps}
        self._supervisor: Supervisor | None = None

    @property
    def interval(self) -> timedelta:
        """The poll interval of apps that set none of their own."""
        return self._interval

    @property
    def apps(self) -> tuple[str, ...]:
        """Names of the watched apps."""
        return tuple(self._slots)

    def status(self, app: str) -> PollResult | None:
        """The last poll's result for ``app`` (None before its first poll)."""
        return self._slot(app).last

    def request_poll(self, app: str) -> None:
        """Wake ``app``'s loop now (a webhook's way in); returns at once."""
        self._slot(app).wake.set()

    async def poll(self, app: str) -> PollResult:
        """Poll ``app`` now and wait for the result; never raises for a broken repo."""
        slot = self._slot(app)
        async with slot.lock:
            started = time.perf_counter()
            with tracer.start_as_current_span("git.poll", attributes={"baton.app": app}) as span:
                try:
                    result = await self._poll(slot)
                except (GitSourceError, CredentialsError) as exc:
                    result = PollResult(app=app, ok=False, reason=str(exc))
                except TimeoutError:
                    reason = f"the event store did not answer within {RECORD_TIMEOUT_S:.0f}s"
                    result = PollResult(app=app, ok=False, reason=reason)
                except Exception as exc:
                    # A bug or a corrupt repo must not end the other apps' loops.
                    reason = slot.mirror.auth.redact(f"{type(exc).__name__}: {exc}")
                    result = PollResult(app=app, ok=False, reason=reason)
                if not result.ok:
                    GIT_POLL_ERRORS.labels(app).inc()
                    span.set_status(StatusCode.ERROR, result.reason)
            _log_transition(slot.last, result)
            result = replace(result, seconds=round(time.perf_counter() - started, 4))
            slot.last = result
            return result

    async def poll_all(self) -> list[PollResult]:
        """One full cycle: every app polled concurrently."""
        return list(await asyncio.gather(*(self.poll(name) for name in self._slots)))

    async def run(self) -> None:
        """Poll every app forever, each on its own interval or when woken."""
        await supervised_until_cancelled(self.start, self.stop)

    @property
    def supervisor(self) -> Supervisor | None:
        """The supervisor of the poll loops while started, else None."""
        return self._supervisor

    async def start(self, supervisor: Supervisor) -> None:
        """Start every app's poll loop under `supervisor`."""
        self._supervisor = supervisor
        for name in self._slots:
            self._start(name)

    async def stop(self) -> None:
        """Stop the poll loops and release the thread pool and the mirrors."""
        supervisor, self._supervisor = self._supervisor, None
        try:
            if supervisor is not None:
                await asyncio.gather(*(supervisor.remove(_task(n)) for n in self._slots))
        finally:
            # a git call may still be running in a thread: do not block the event loop
            self.close(wait=False)

    async def reconfigure(self, apps: Iterable[AppSpec]) -> None:
        """Take a reloaded config: new apps start, removed ones stop, changed ones are
        polled at once (from a new mirror when their repo or branch changed)."""
        wanted = {spec.name: spec for spec in apps}
        for name in [n for n in self._slots if n not in wanted]:
            if self._supervisor is not None:
                await self._supervisor.remove(_task(name))
            async with self._slots[name].lock:
                self._slots.pop(name).mirror.close()
        for name, spec in wanted.items():
            slot = self._slots.get(name)
            if slot is None:
                self._slots[name] = _AppSlot(spec=spec, mirror=self._mirror(spec))
                self._start(name)
                continue
            if slot.spec == spec:
                continue
            async with slot.lock:
                if (slot.spec.repo, slot.spec.branch) != (spec.repo, spec.branch):
                    slot.mirror.close()
                    slot.mirror = self._mirror(spec)
                    slot.recorded_head = None
                slot.spec = spec
            slot.wake.set()

    def _start(self, name: str) -> None:
        """Start ``name``'s poll loop when the watcher is running."""
        if self._supervisor is not None:
            self._supervisor.start(_task(name), partial(self._loop, name))

    def _mirror(self, spec: AppSpec) -> Mirror:
        return Mirror(
            directory=mirror_path(self._home, spec.name),
            url=spec.repo,
            branch=spec.branch,
            auth=GitAuth(),
            network_timeout_s=self._network_timeout_s,
        )

    def close(self, *, wait: bool = True) -> None:
        """Release the thread pool and the mirrors' git processes."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
        for slot in self._slots.values():
            slot.mirror.close()

    async def _loop(self, app: str) -> None:
        while app in self._slots:
            await self.poll(app)
            slot = self._slots.get(app)
            if slot is None:  # removed by reconfigure() meanwhile
                return
            interval = (slot.spec.poll_interval or self._interval).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(slot.wake.wait(), timeout=interval)
            slot.wake.clear()

    async def _poll(self, slot: _AppSlot) -> PollResult:
        spec, mirror = slot.spec, slot.mirror
        with tracer.start_as_current_span("git.observe"):
            mirror.auth = await self._in_pool(
                lambda: resolve_auth(spec.credentials, app=spec.name, key_dir=self._home / "keys")
            )
            remote = await self._in_pool(mirror.remote_head)
            if remote is None:
                raise GitSourceError(f"branch {spec.branch!r} does not exist in the repository")
            if remote == slot.recorded_head:
                return PollResult(app=spec.name, ok=True, head=remote)
            head = await self._in_pool(lambda: _fetch_if_needed(mirror, remote))
        with tracer.start_as_current_span("git.plan"):
            async with asyncio.timeout(RECORD_TIMEOUT_S):
                state = await self._recorder.source_state(spec)
            plan = await self._in_pool(
                lambda: plan_poll(mirror=mirror, app=spec, state=state, head=head)
            )
        if not plan.is_empty:
            with tracer.start_as_current_span("git.record"):
                shas = [o.commit.sha for o in plan.observations]
                await self._in_pool(lambda: mirror.keep(*shas))
                async with asyncio.timeout(RECORD_TIMEOUT_S):
                    await self._recorder.record(spec, plan)
        slot.recorded_head = head
        return PollResult(
            app=spec.name,
            ok=True,
            head=head,
            changed=not plan.is_empty,
            released=tuple(o.commit.sha for o in plan.observations if o.is_release),
            rejected=tuple(o.commit.sha for o in plan.observations if not o.is_release),
            rewritten_from=plan.rewritten_from,
        )

    async def _in_pool(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def _slot(self, app: str) -> _AppSlot:
        try:
            return self._slots[app]
        except KeyError:
            raise KeyError(f"no watched app {app!r}") from None


def _task(app: str) -> str:
    """The name of ``app``'s poll loop among the supervisor's tasks."""
    return f"git-watch:{app}"


def _fetch_if_needed(mirror: Mirror, remote: str) -> str:
    """Fetch unless the mirror already holds ``remote``; returns the head to plan against."""
    if mirror.local_head() == remote:
        return remote
    head = mirror.fetch()
    if head is None:
        raise GitSourceError(f"fetch of branch {mirror.branch!r} brought no head")
    return head


def _log_transition(previous: PollResult | None, result: PollResult) -> None:
    """Log a source going bad or recovering once, not on every poll of a broken repo."""
    if not result.ok and (previous is None or previous.reason != result.reason):
        log.warning("git source of %s failed: %s", result.app, result.reason)
    elif result.ok and previous is not None and not previous.ok:
        log.info("git source of %s recovered", result.app)
    elif result.changed:
        log.info(
            "git source of %s: head %s, %d released, %d rejected",
            result.app,
            (result.head or "")[:12],
            len(result.released),
            len(result.rejected),
        )
