"""`baton replay`: rebuild read models from the log, or verify them against a rebuild."""

from __future__ import annotations

import asyncio
import sys

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode


@click.command()
@click.option("--projection", "names", multiple=True, help="Only this projection (repeatable).")
@click.option(
    "--verify",
    "check",
    is_flag=True,
    help="Rebuild into scratch tables and report differences from the live ones.",
)
def replay(names: tuple[str, ...], check: bool) -> None:
    """Rebuild projections from the whole event log, swapping them in atomically."""
    from rich.table import Table

    from engine.runtime import open_database
    from engine.settings import Settings
    from projections.catalog import select
    from projections.rebuild import BESIDE_READERS, rebuild, verify
    from projections.runner import ProjectionRunner

    console = make_console()
    try:
        projections = select(list(names))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--projection") from None

    async def run() -> bool:
        async with open_database(Settings.from_env(), require_migrated=True) as db:
            await ProjectionRunner(db.store.pool, projections).ensure()
            if not check:
                # a server may be answering reads from the tables it replaces
                report = await rebuild(db.store.pool, projections, loads_at_once=BESIDE_READERS)
                rate = report.events / report.seconds if report.seconds else 0.0
                console.print(
                    f"rebuilt {', '.join(report.projections)}: {report.events} events "
                    f"up to position {report.position} in {report.seconds:.2f}s "
                    f"({rate:,.0f} events/s)"
                )
                return True
            result = await verify(db.store.pool, projections)
        if result.ok:
            console.print(
                f"[green]replay verified[/]: {', '.join(result.projections)} equal a rebuild "
                f"at position {result.position}"
            )
            return True
        table = Table(title=f"differences at position {result.position}")
        for column in ("table", "only live", "only rebuilt", "sample"):
            table.add_column(column)
        for d in result.differences:
            table.add_row(d.table, str(d.only_live), str(d.only_rebuilt), "\n".join(d.sample))
        make_console(stderr=True).print(table)
        return False

    if not asyncio.run(run()):
        sys.exit(ExitCode.REFUSED)
