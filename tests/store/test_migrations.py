"""Migrations: each file once, in order; concurrent migrators; edited files are caught."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from engine.store.errors import MigrationError
from engine.store.migrate import default_migrations_dir, migrate, pending_migrations

pytestmark = pytest.mark.store


def write(folder: Path, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


async def test_each_file_applies_once_in_numeric_order(
    empty_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "002_fill.sql", "INSERT INTO t VALUES (2);")
    write(tmp_path, "001_make.sql", "CREATE TABLE t (v int);")
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await migrate(conn, tmp_path) == ["001_make.sql", "002_fill.sql"]
        assert await migrate(conn, tmp_path) == []
        write(tmp_path, "010_more.sql", "INSERT INTO t VALUES (10);")
        assert await migrate(conn, tmp_path) == ["010_more.sql"]
        assert [r["v"] for r in await conn.fetch("SELECT v FROM t ORDER BY v")] == [2, 10]
    finally:
        await conn.close()


async def test_concurrent_migrators_apply_each_file_once(empty_database_url: str) -> None:
    conns = [await asyncpg.connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = [name for result in results for name in result]
        expected = sorted(p.name for p in default_migrations_dir().glob("*.sql"))
        assert sorted(applied) == expected
        assert await pending_migrations(conns[0]) == []
    finally:
        for conn in conns:
            await conn.close()


async def test_an_edited_applied_migration_stops_with_its_name(
    empty_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "001_make.sql", "CREATE TABLE t (v int);")
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, tmp_path)
        write(tmp_path, "001_make.sql", "CREATE TABLE t (v bigint);")
        write(tmp_path, "002_next.sql", "CREATE TABLE u (v int);")
        with pytest.raises(MigrationError, match="001_make.sql was changed after it was applied"):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('u')") is None
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(
    empty_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "001_ok.sql", "CREATE TABLE a (v int);")
    write(tmp_path, "002_bad.sql", "CREATE TABLE b (v int); SELECT * FROM missing;")
    conn = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(MigrationError, match="002_bad.sql failed"):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('a')") == "a"
        assert await conn.fetchval("SELECT to_regclass('b')") is None
        names = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")]
        assert names == ["001_ok.sql"]
    finally:
        await conn.close()


def test_badly_named_migration_files_are_refused(tmp_path: Path) -> None:
    from engine.store.migrate import load_migrations

    write(tmp_path, "1-make.sql", "")
    with pytest.raises(MigrationError, match="1-make.sql"):
        load_migrations(tmp_path)
