"""The supervisor: failed tasks come back after growing waits, quietly, without harming others."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from engine.backoff import Backoff
from engine.metrics import REGISTRY
from engine.supervisor import Supervisor, TaskState

pytestmark = pytest.mark.timeout(30)


def metric(name: str, task: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"task": task})


async def until(check: object, *, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_task_that_fails_twice_is_restarted_after_growing_waits_and_its_sibling_runs_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="engine.supervisor")
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    failed_at: list[float] = []
    ticks = 0

    async def flaky() -> None:
        starts.append(loop.time())
        if len(starts) <= 2:
            failed_at.append(loop.time())
            raise ConnectionResetError(f"database went away (run {len(starts)})")
        await asyncio.Event().wait()

    async def sibling() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    supervisor = Supervisor(
        backoff=Backoff(base=0.1, cap=5.0, rng=random.Random(7)), healthy_after=0.3
    )
    supervisor.start("flaky", flaky)
    supervisor.start("sibling", sibling)
    try:
        await until(lambda: len(starts) == 3)
        failing = supervisor.status("flaky")
        assert failing.state is TaskState.FAILING
        assert failing.restarts == 2
        assert failing.last_error == "ConnectionResetError: database went away (run 2)"
        assert failing.failing_since is not None
        assert metric("baton_task_up", "flaky") == 0
        # waits grow: the first within (0.05, 0.1], the second within (0.1, 0.2]
        first, second = starts[1] - failed_at[0], starts[2] - failed_at[1]
        assert 0.05 <= first < second
        assert second >= 0.1
        ticks_then = ticks
        await until(lambda: supervisor.status("flaky").state is TaskState.RUNNING)
        recovered = supervisor.status("flaky")
        assert recovered.restarts == 2 and recovered.failing_since is None
        assert metric("baton_task_up", "flaky") == 1
        assert metric("baton_task_restarts_total", "flaky") == 2
        assert supervisor.running("sibling") and ticks > ticks_then
        assert supervisor.status("sibling").state is TaskState.RUNNING
        assert metric("baton_task_restarts_total", "sibling") == 0
    finally:
        await supervisor.stop(grace=2)
    records = [r for r in caplog.records if r.name == "engine.supervisor"]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert warnings == [
        "task flaky stopped working: ConnectionResetError: database went away (run 1);"
        " restarting it"
    ]
    assert len(infos) == 1 and infos[0].startswith("task flaky recovered after 2 restart(s)")
    assert supervisor.statuses() == []


async def test_a_task_that_returns_is_done_and_a_removed_one_is_forgotten() -> None:
    supervisor = Supervisor()
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1

    supervisor.start("once", once)
    supervisor.start("forever", lambda: asyncio.Event().wait())  # type: ignore[arg-type,return-value]
    await until(lambda: not supervisor.running("once"))
    await asyncio.sleep(0.2)
    assert runs == 1
    assert supervisor.status("once").state is TaskState.STOPPED
    assert metric("baton_task_up", "once") == 0
    await supervisor.remove("forever", grace=1)
    assert [s.name for s in supervisor.statuses()] == ["once"]
    assert metric("baton_task_up", "forever") is None
    await supervisor.stop(grace=1)


async def test_stop_ends_a_task_that_swallows_a_cancellation_and_is_bounded() -> None:
    supervisor = Supervisor()
    swallowed = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()  # as Python 3.11's wait_for can: the cancel is lost once
        await asyncio.Event().wait()

    deaf_until = asyncio.Event()

    async def deaf() -> None:
        while not deaf_until.is_set():
            try:
                await deaf_until.wait()
            except asyncio.CancelledError:
                continue

    supervisor.start("stubborn", stubborn)
    supervisor.start("deaf", deaf)
    await asyncio.sleep(0.05)
    deaf_task = next(t for t in asyncio.all_tasks() if t.get_name() == "deaf")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await supervisor.stop(grace=0.5)
    assert loop.time() - began < 1.0
    assert swallowed.is_set()
    assert not deaf_task.done()  # given up on after the timeout, not waited for
    deaf_until.set()
    await asyncio.wait({deaf_task}, timeout=1)
