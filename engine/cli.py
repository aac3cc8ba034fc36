"""The `baton` command line.

Exit codes a script can rely on (`engine.cli_errors.ExitCode`): 0 success, 1 the check
failed (e.g. a broken hash chain, a database without baton's tables), 2 bad usage, 3 the
database could not be reached or migrated. Every failure is one line on stderr.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import entry_points
from typing import Any, TypeVar

import click

from engine.cli_console import make_console
from engine.cli_errors import BatonGroup, ExitCode
from engine.runtime import open_database
from engine.settings import Settings
from engine.store.audit import verify_chain

T = TypeVar("T")
console = make_console()
err_console = make_console(stderr=True)


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's coroutine; what it raises, `BatonGroup` turns into one line."""
    return asyncio.run(main())


@click.group(cls=BatonGroup)
@click.version_option(package_name="baton")
def main() -> None:
    """baton: an event-sourced promotion engine for GitOps."""


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""

    async def run() -> None:
        from engine.store.migrate import migrate as apply

        settings = Settings.from_env()
        async with (
            open_database(settings, apply_migrations=False) as db,
            db.store.pool.acquire() as conn,
        ):
            applied = await apply(conn)
        if applied:
            for name in applied:
                console.print(f"applied {name}")
        else:
            console.print("database is up to date")

    run_async(run)


@main.group()
def audit() -> None:
    """Check the integrity of the event log."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; name the first position that does not match."""

    async def run() -> bool:
        async with (
            open_database(Settings.from_env(), require_migrated=True) as db,
            db.store.pool.acquire() as conn,
        ):
            report = await verify_chain(conn)
        if report.ok:
            console.print(
                f"[green]hash chain intact[/]: {report.checked} events, "
                f"head at position {report.head_position}"
            )
        else:
            err_console.print(
                f"[red]hash chain broken at position {report.broken_at}[/]: {report.reason} "
                f"({report.checked} events verified before it)"
            )
        return report.ok

    if not run_async(run):
        sys.exit(ExitCode.REFUSED)


def _add_commands() -> None:
    """Commands from other modules and from the layers above the engine.

    The layers above (projections, api) register theirs as `baton.commands` entry points,
    so the engine never imports them.
    """
    from engine.cli_health import health
    from engine.cli_source import config, git

    main.add_command(config)
    main.add_command(git)
    main.add_command(health)
    for entry in entry_points(group="baton.commands"):
        main.add_command(entry.load(), entry.name)


_add_commands()
