"""Postgres goes away while promotions and syncs flow; baton records through it.

A real PostgreSQL of the test's own is stopped (fast or immediate shutdown, or down for 8 s)
or has baton's connections terminated, under a steady load of promotions on a real `baton
serve` process. Afterwards: no acknowledged promotion is lost or recorded twice, the hash
chain and the read models check out, the same process answers writes and is ready again
within 2 s of the database, and every promotion accepted finishes.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.service.baton_process import (
    BATON,
    Baton,
    Site,
    call,
    environment,
    promote_and_see_applied,
    wait_for,
)
from tests.service.load import PromotionLoad
from tests.service.postgres import RestartablePostgres, Shutdown, accepting

RECOVERY_S = 2.0
_databases = itertools.count()


@pytest.fixture(scope="module")
def postgres() -> Iterator[RestartablePostgres]:
    """A server this module may stop and start (in a folder its system user can reach, as
    the suite's own server is)."""
    with tempfile.TemporaryDirectory(prefix="baton-restartable-") as root:
        server = RestartablePostgres(Path(root))
        yield server
        server.close()


@pytest.fixture
async def served(postgres: RestartablePostgres, tmp_path: Path) -> AsyncIterator[Baton]:
    """A baton process with three apps, each with two releases verified in dev."""
    url = await postgres.create_database(f"outage_{next(_databases)}")
    site = await asyncio.to_thread(Site.create, tmp_path, url, apps=3)
    baton = Baton.start(site)
    baton.site = site  # type: ignore[attr-defined]
    await asyncio.to_thread(baton.wait_ready)
    for release in (site.release, await asyncio.to_thread(site.add_release)):
        for app in site.apps:
            await asyncio.to_thread(
                wait_for,
                f"{app}/dev verified {release[:12]}",
                lambda app=app, release=release: (
                    environment(baton.url, "dev", app)["last_verified_release"] == release
                ),
            )
    # the gated environment may take the latest release once staging verified it
    await asyncio.to_thread(
        promote_and_see_applied, baton.url, site.release, "staging", site.apps[0]
    )
    await asyncio.to_thread(
        wait_for,
        "staging verified",
        lambda: (
            environment(baton.url, "staging", site.apps[0])["last_verified_release"] == site.release
        ),
    )
    yield baton
    await asyncio.to_thread(baton.stop)


class ReadyWatch:
    """Polls /readyz in a thread: (time, status) of every answer."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seen: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            status, _ = call(self.base, "GET", "/readyz", token=None, timeout=5)
            self.seen.append((time.monotonic(), status))
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def ready_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first 200 after it."""
        return next((at - moment for at, s in self.seen if at >= moment and s == 200), None)

    def was_unready(self) -> bool:
        return any(s == 503 for _, s in self.seen)


async def _fault(postgres: RestartablePostgres, fault: str, database: str) -> float:
    """Put the fault on; return when the database accepts connections again."""
    if fault == "terminate":
        await postgres.terminate_backends(database)
        return time.monotonic()
    mode = Shutdown.IMMEDIATE if fault == "immediate" else Shutdown.FAST
    down = 8.0 if fault == "down-8s" else 0.0
    back = await asyncio.to_thread(postgres.restart, mode, down=down)
    await accepting(postgres)
    return back


async def _check_log(url: str, load: PromotionLoad) -> None:
    lost, twice = await load.check_log(url)
    assert not lost, "acknowledged promotions lost"
    assert not twice, "promotions recorded twice"
    conn = await asyncpg.connect(url)
    try:
        gaps = await conn.fetch(
            "SELECT stream_id FROM events GROUP BY stream_id"
            " HAVING max(stream_version) <> count(*) OR min(stream_version) <> 1"
        )
    finally:
        await conn.close()
    assert not gaps, f"streams with gaps in their versions: {gaps}"


def _cli_checks(site: Site) -> None:
    for command in (["audit", "verify"], ["replay", "--verify"]):
        done = subprocess.run(
            [BATON, *command], env=site.env, cwd=site.root, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"baton {' '.join(command)}: {done.stdout}{done.stderr}"


@pytest.mark.parametrize("fault", ["fast", "immediate", "down-8s", "terminate"])
async def test_baton_records_through_a_database_fault(
    served: Baton, postgres: RestartablePostgres, fault: str
) -> None:
    site: Site = served.site  # type: ignore[attr-defined]
    load = PromotionLoad(site, served.url).start()
    ready = ReadyWatch(served.url)
    try:
        await asyncio.sleep(2)
        back = await _fault(postgres, fault, site.database_url.rsplit("/", 1)[1])
        await asyncio.sleep(3)
    finally:
        load.stop()
        ready.stop()
    assert served.process.poll() is None, served.output()  # the same process throughout
    assert load.server_errors() == [], load.statuses
    assert len(load.acknowledged) >= 3, load.statuses
    first_write = load.first_write_after(back)
    assert first_write is not None and first_write <= RECOVERY_S, (first_write, load.statuses)
    if fault != "terminate":
        assert ready.was_unready(), "readyz never said the database was down"
    recovered = ready.ready_after(back)
    assert recovered is not None and recovered <= RECOVERY_S, recovered

    def all_finished() -> bool:
        left = load.unfinished()
        if left:
            _, ready_body = call(served.url, "GET", "/readyz", token=None)
            raise AssertionError(f"unfinished: {left}; /readyz: {ready_body}")
        return True

    await asyncio.to_thread(wait_for, "every promotion finished", all_finished)
    await _check_log(site.database_url, load)
    await asyncio.to_thread(_cli_checks, site)
