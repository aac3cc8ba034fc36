"""Fixtures of the subscription tests: a log of events, and subscribers in processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from engine.store import EventMetadata, EventStore, NewEvent
from tests.subscriptions.subscriber import DELIVERED

ROOT = Path(__file__).resolve().parents[2]


async def append(store: EventStore, count: int, *, stream: str = "test:log") -> int:
    """Append `count` events; the head's position after them."""
    version = await store.stream_version(stream)
    for start in range(0, count, 50):
        n = min(50, count - start)
        events = [NewEvent(type="Test.Happened", data={"n": start + i}) for i in range(n)]
        result = await store.append(
            stream, events, expected_version=version, metadata=EventMetadata(actor="test")
        )
        version = result.last_version
    return await store.head_position()


async def delivered(url: str) -> list[tuple[int, int]]:
    """(pid, position) of every delivery, in the order they were made."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(DELIVERED)
        rows = await conn.fetch("SELECT pid, position FROM delivered ORDER BY id")
    finally:
        await conn.close()
    return [(r["pid"], r["position"]) for r in rows]


class Subscribers:
    """Subscriber processes started by a test, all killed at its end."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.url = url
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """A process running subscription `name`."""
        log = (self.log_dir / f"subscriber-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.subscriptions.subscriber", self.url, name],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL: nothing is closed, nothing checkpointed."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@pytest.fixture
async def subscribers(database_url: str, tmp_path: Path) -> Iterator[Subscribers]:
    """Start subscriber processes on this test's database."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(DELIVERED)
    finally:
        await conn.close()
    found = Subscribers(database_url, tmp_path)
    yield found
    for process in found.started:
        if process.poll() is None:
            found.kill(process)
