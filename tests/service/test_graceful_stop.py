"""SIGTERM or SIGINT to `baton serve`: new connections refused at once, requests in flight
answered, live tails closed, syncs in flight closed (never left to be abandoned), traces
flushed, every process gone with exit 0 within 15 s — as the real console script does it."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from bench._otlp import OtlpReceiver
from engine.domain.ids import target_stream
from engine.store.database import create_pool
from engine.store.event_store import EventStore
from kubesim import ControllerTiming, SimHandle, start_clusters
from tests.service.baton_process import (
    TOKENS,
    Baton,
    Site,
    call,
    environment,
    wait_for,
)

pytestmark = pytest.mark.timeout(90)
STOP_WITHIN_S = 15.0
CLOSED = ("Target.SyncSucceeded", "Target.SyncFailed")


def _stop_and_time(baton: Baton, sig: int = signal.SIGTERM) -> float:
    """Send `sig` to the main process only; assert exit 0; the seconds it took."""
    started = time.monotonic()
    os.kill(baton.process.pid, sig)
    code = baton.process.wait(STOP_WITHIN_S + 5)
    took = time.monotonic() - started
    assert code == 0, baton.output()
    assert took < STOP_WITHIN_S, f"stopped in {took:.1f}s:\n{baton.output()}"
    return took


def _log_messages(baton: Baton) -> list[str]:
    """The messages of the process's JSON log lines (its extra processes' too)."""
    messages = []
    for line in baton.output().splitlines():
        try:
            messages.append(json.loads(line)["message"])
        except (ValueError, KeyError, TypeError):
            continue
    return messages


def _logged(baton: Baton, start: str) -> int:
    """How many log lines start with `start`."""
    return sum(m.startswith(start) for m in _log_messages(baton))


def _assert_logged_stop(baton: Baton, processes: int = 1) -> None:
    assert _logged(baton, "baton stopping") == processes, baton.output()
    assert _logged(baton, "baton stopped in") == processes, baton.output()
    assert "Traceback" not in baton.output()


@contextmanager
def _clusters(site: Site) -> Iterator[SimHandle]:
    """The pipeline's clusters in this test's process, so that it can make one hang."""
    with start_clusters(
        ["dev", "staging", "prod"],
        kubeconfig_path=site.root / "kubeconfig",
        timing=ControllerTiming.fast(),
    ) as handle:
        yield handle


async def _dev_events(database_url: str) -> list[tuple[str, dict[str, object]]]:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        events = await EventStore(pool).read_stream(target_stream("shop", "dev"))
    finally:
        await pool.close()
    return [(e.type, e.data) for e in events]


async def test_a_sigterm_cuts_a_sync_on_a_hanging_cluster_cleanly_and_the_next_start_applies(
    site: Site,
) -> None:
    def run() -> float:
        with _clusters(site) as sim:
            dev = sim.cluster("dev")
            # every server-side apply to dev hangs: the sync is in flight when SIGTERM comes
            dev.faults.latency, dev.faults.methods = 60.0, frozenset({"PATCH"})
            applying = threading.Event()
            dev.observers.add(lambda arrival: arrival.is_apply and applying.set())
            kubeconfig = ("--kubeconfig", str(sim.kubeconfig_path))
            baton = Baton.start(site, *kubeconfig)
            baton.wait_ready()
            assert applying.wait(30), baton.output()
            took = _stop_and_time(baton)
            _assert_logged_stop(baton)
            dev.faults.reset()
            again = Baton.start(site, *kubeconfig)
            try:
                again.wait_ready()
                wait_for(
                    "dev applied",
                    lambda: environment(again.url, "dev")["applied_release"] == site.release,
                )
            finally:
                assert again.stop() == 0, again.output()
            return took

    await asyncio.to_thread(run)
    events = await _dev_events(site.database_url)
    types = [t for t, _ in events]
    assert "Target.SyncAbandoned" not in types
    first_sync = next(d["sync_id"] for t, d in events if t == "Target.SyncStarted")
    closing = [t for t, d in events if t in CLOSED and d["sync_id"] == first_sync]
    assert closing == ["Target.SyncFailed"], types
    assert "Target.SyncSucceeded" in types


def _open_tail(url: str) -> http.client.HTTPResponse:
    """`GET /events/stream`, its headers read; the body is read by the caller."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.request(
        "GET", f"{parts.path}/events/stream", headers={"Authorization": f"Bearer {TOKENS['alice']}"}
    )
    response = connection.getresponse()
    assert response.status == 200
    return response


async def _lock_appends(database_url: str) -> asyncpg.Connection:
    """A connection whose open transaction holds back every append."""
    conn = await asyncpg.connect(database_url)
    await conn.execute("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE")
    return conn


async def _waiting_on_a_lock(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))


async def test_a_sigterm_refuses_new_connections_answers_the_request_in_flight_and_ends_tails(
    site: Site,
) -> None:
    baton = Baton.start(site)
    await asyncio.to_thread(baton.wait_ready)
    await asyncio.to_thread(
        wait_for,
        "dev verified",
        lambda: environment(baton.url, "dev")["last_verified_release"] == site.release,
    )
    tail = await asyncio.to_thread(_open_tail, baton.url)
    tail_read = asyncio.create_task(asyncio.to_thread(tail.read))
    lock = await _lock_appends(site.database_url)
    body = {"app": "shop", "environment": "staging", "from_environment": "dev"}
    posting = asyncio.create_task(asyncio.to_thread(call, baton.url, "POST", "/promotions", body))
    try:
        while not await _waiting_on_a_lock(lock):  # the POST is in flight, held by the lock
            await asyncio.sleep(0.05)
        stopped = asyncio.create_task(asyncio.to_thread(_stop_and_time, baton))
        # new connections are refused while the request in flight is not answered yet
        await asyncio.to_thread(
            wait_for, "the port closed", lambda: call(baton.url, "GET", "/healthz")[0] == 0, 5
        )
        assert not posting.done()
    finally:
        await lock.execute("ROLLBACK")
        await lock.close()
    status, answer = await posting
    assert status == 202, answer
    await asyncio.wait_for(tail_read, STOP_WITHIN_S)  # the tail ended, not cut at exit
    await stopped
    _assert_logged_stop(baton)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(p) for p in children.read().split()]


async def test_a_sigterm_to_the_first_of_several_processes_stops_them_all(site: Site) -> None:
    def run() -> None:
        baton = Baton.start(site, "--workers", "2")
        baton.wait_ready()
        extra = wait_for("the extra process", lambda: _children(baton.process.pid))
        wait_for("the extra process serving", lambda: _logged(baton, "HTTP worker"))
        _stop_and_time(baton)
        _assert_logged_stop(baton, processes=2)
        for pid in extra:
            assert not Path(f"/proc/{pid}").exists(), baton.output()

    await asyncio.to_thread(run)


async def test_a_sigint_stops_baton_as_a_sigterm_does(site: Site) -> None:
    def run() -> None:
        baton = Baton.start(site)
        baton.wait_ready()
        assert call(baton.url, "GET", "/apps/shop")[0] == 200
        _stop_and_time(baton, signal.SIGINT)
        _assert_logged_stop(baton)

    await asyncio.to_thread(run)


async def test_the_spans_of_the_last_request_are_exported_before_the_exit(site: Site) -> None:
    trace_id = os.urandom(16).hex()
    traceparent = f"00-{trace_id}-{os.urandom(8).hex()}-01"

    def run(receiver: OtlpReceiver) -> None:
        baton = Baton.start(site, env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        baton.wait_ready()
        status, _ = call(baton.url, "GET", "/apps/shop", headers={"traceparent": traceparent})
        assert status == 200
        _stop_and_time(baton)  # at once: the batch would go out 5 s later

    with OtlpReceiver() as receiver:
        await asyncio.to_thread(run, receiver)
        ours = [s for s in receiver.spans if s.trace_id == trace_id]
    assert ours, f"{len(receiver.spans)} spans arrived, none of the request's"
