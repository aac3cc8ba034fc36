"""`baton migrate` and `baton audit verify`: the database's schema and the log's hash chain.

Exit codes follow `baton.cli.errors`: 0 done, 1 a broken hash chain or a database
without baton's tables, 3 the database could not be reached or migrated.
"""

from __future__ import annotations

import asyncio
import sys

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode


@click.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from engine.runtime import open_database
    from engine.settings import Settings
    from engine.store.migrate import migrate as apply

    async def run() -> list[str]:
        async with (
            open_database(Settings.from_env(), apply_migrations=False) as db,
            db.store.pool.acquire() as conn,
        ):
            return await apply(conn)

    applied = asyncio.run(run())
    console = make_console()
    if applied:
        for name in applied:
            console.print(f"applied {name}")
    else:
        console.print("database is up to date")


@click.group()
def audit() -> None:
    """Check the integrity of the event log."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; name the first position that does not match.

    Each run is recorded, as the API's is: the console shows the latest; a broken chain
    is also an event of the log (`Audit.ChainBroken`), which the notifications tell of."""
    from engine.audit import verify
    from engine.runtime import open_database
    from engine.settings import Settings
    from engine.store.audit import ChainReport

    async def run() -> ChainReport:
        async with open_database(Settings.from_env(), require_migrated=True) as db:
            return (await verify(db.store)).report

    report = asyncio.run(run())
    if report.ok:
        make_console().print(
            f"[green]hash chain intact[/]: {report.checked} events, "
            f"head at position {report.head_position}"
        )
        return
    make_console(stderr=True).print(
        f"[red]hash chain broken at position {report.broken_at}[/]: {report.reason} "
        f"({report.checked} events verified before it)"
    )
    sys.exit(ExitCode.REFUSED)
