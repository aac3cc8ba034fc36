"""Schema migrations: numbered plain-SQL files in `migrations/` beside this module, each
applied once, in order.

The files ship inside the package (a wheel carries them), so an installed `baton migrate`
finds them wherever it runs from.

Each file runs in its own transaction and is recorded with its checksum; concurrent
migrators (several baton replicas starting together) serialise on an advisory lock; a file
whose checksum changed after it was applied stops everything with an error naming it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from engine.store.errors import MigrationError, SchemaMissing

_FILE = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")
# pg_advisory_lock key: fixed, so every baton process agrees on it
_LOCK_KEY = 0x0BA7_0001


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    number: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def default_migrations_dir() -> Path:
    """The `migrations/` folder inside this package, next to this module."""
    return Path(__file__).resolve().parent / "migrations"


def load_migrations(directory: Path) -> list[Migration]:
    """Read and order the migration files; malformed names and duplicate numbers are errors."""
    if not directory.is_dir():
        raise MigrationError(f"migrations folder {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: a migration file is named NNN_lowercase_words.sql")
        number = int(match.group(1))
        if number in found:
            raise MigrationError(f"{path.name} and {found[number].name} share the number {number}")
        found[number] = Migration(number, path.name, path.read_text(encoding="utf-8"))
    return [found[n] for n in sorted(found)]


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Apply the pending migrations on `conn`; return the names of the files applied."""
    migrations = load_migrations(directory or default_migrations_dir())
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name       text        PRIMARY KEY,
                   checksum   text        NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            row["name"]: row["checksum"]
            for row in await conn.fetch("SELECT name, checksum FROM schema_migrations")
        }
        done: list[str] = []
        for migration in migrations:
            if migration.name in applied:
                if applied[migration.name] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} was changed after it was applied "
                        f"(applied checksum {applied[migration.name][:12]}, "
                        f"file checksum {migration.checksum[:12]}); "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                try:
                    await conn.execute(migration.sql)
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"{migration.name} failed: {exc}") from exc
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    migration.name,
                    migration.checksum,
                )
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def pending_migrations(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Names of migration files not yet applied (for readiness checks)."""
    names = [m.name for m in load_migrations(directory or default_migrations_dir())]
    has_table = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not has_table:
        return names
    applied = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
    return [n for n in names if n not in applied]


async def check_migrated(conn: asyncpg.Connection, where: str) -> None:
    """Raise SchemaMissing, creating nothing, unless every migration has been applied."""
    names = [m.name for m in load_migrations(default_migrations_dir())]
    pending = await pending_migrations(conn)
    if pending:
        raise SchemaMissing(where, pending, empty=len(pending) == len(names))
