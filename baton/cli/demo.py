"""`baton demo`: the command of `make demo`; the story itself is `baton.demo`."""

from __future__ import annotations

import click


@click.command()
@click.option("--once", is_flag=True, help="Stop after the story instead of serving on.")
def demo(once: bool) -> None:
    """Run the whole story on this machine: Git, Postgres, three clusters, the API."""
    from baton.demo import tell

    tell(once=once)
