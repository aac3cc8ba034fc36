"""An append whose connection is lost in flight is done exactly once, and said to be done
only when it is in the log.

A real network fault: the store reaches Postgres through a proxy that the test cuts, while
the append waits inside Postgres on the log's head row (the test holds it). Cut while it
waits, the append never committed: it is sent again and commits once. Cut after it
committed, only its answer is lost: the store finds it in the log and reports it done,
without a second copy.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest

from engine.store import EventMetadata, EventStore, NewEvent
from engine.store.database import create_pool

pytestmark = pytest.mark.store
STREAM = "target:web:dev"


class Proxy:
    """TCP in front of the database; `cut()` drops every client side (the server sides stay
    open, as behind a broken network); `swallow()` drops the next answer, then cuts."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self.database_url = database_url
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        port = parts.port or 5432
        self.unix = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir else None
        self.tcp = (parts.hostname or "127.0.0.1", port)
        self.clients: list[asyncio.StreamWriter] = []
        self.swallowing = False

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        parts = urlsplit(self.database_url)
        user = parts.username or "postgres"
        return urlunsplit(("postgresql", f"{user}@127.0.0.1:{port}", parts.path, "", ""))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.unix:
            up_reader, up_writer = await asyncio.open_unix_connection(self.unix)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.tcp)
        self.clients.append(writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer, answers=True),
            return_exceptions=True,
        )  # fmt: skip

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, answers: bool = False
    ) -> None:
        while data := await reader.read(65536):
            if answers and self.swallowing:
                self.swallowing = False
                self.cut()
                return
            writer.write(data)
            await writer.drain()

    def cut(self) -> None:
        for client in self.clients:
            client.transport.abort()
        self.clients.clear()

    def swallow(self) -> None:
        self.swallowing = True

    async def close(self) -> None:
        self.cut()
        self.server.close()


async def _blocked_by(
    watcher: asyncpg.Connection, holder: int, *, besides: frozenset[int] = frozenset()
) -> int:
    """A backend waiting on the `holder` backend's lock. `watcher` is outside any
    transaction: inside one, pg_stat_activity would stay as it was at its first read."""
    for _ in range(200):
        pids = await watcher.fetch(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder
        )
        found = {r["pid"] for r in pids} - besides
        if found:
            return int(found.pop())
        await asyncio.sleep(0.02)
    raise AssertionError("no append came to wait on the head row")


async def _copies(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", STREAM)
    finally:
        await conn.close()
    return count


async def _with_proxied_store(database_url: str, fault: str) -> int:
    proxy = Proxy(database_url)
    pool = await create_pool(await proxy.start(), min_size=1, max_size=4)
    store = EventStore(pool)
    holder = await asyncpg.connect(database_url)
    watcher = await asyncpg.connect(database_url)
    holding = holder.get_server_pid()
    try:
        await holder.execute("BEGIN; SELECT * FROM event_head FOR UPDATE")
        append = asyncio.create_task(
            store.append(
                STREAM, [NewEvent(type="Target.Test", data={"n": 1})],
                expected_version=0, metadata=EventMetadata(actor="test"),
            )
        )  # fmt: skip
        first = await _blocked_by(watcher, holding)
        if fault == "cut while waiting":
            proxy.cut()
            await _blocked_by(watcher, holding, besides=frozenset({first}))  # sent again
        else:  # cut once committed: only the answer is lost
            proxy.swallow()
        await holder.execute("COMMIT")
        result = await asyncio.wait_for(append, 10)
        return result.last_position
    finally:
        await holder.close()
        await watcher.close()
        await store.close()
        pool.terminate()
        await proxy.close()


@pytest.mark.parametrize("fault", ["cut while waiting", "cut once committed"])
async def test_a_lost_append_is_recorded_once_and_reported_done(
    database_url: str, fault: str
) -> None:
    position = await _with_proxied_store(database_url, fault)
    assert await _copies(database_url) == 1
    assert position >= 1
