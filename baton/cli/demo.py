"""`baton demo`: the command of `make demo`; the story itself is `baton.demo`."""

from __future__ import annotations

import signal
import sys

import click

from baton.cli.errors import fail


@click.command()
@click.option("--once", is_flag=True, help="Stop after the story instead of serving on.")
@click.option(
    "-v", "--verbose", count=True, help="Show the log too (-v: INFO, -vv: DEBUG); quiet otherwise."
)
def demo(once: bool, verbose: int) -> None:
    """Run the whole story on this machine: Git, Postgres, three clusters, the API.

    Ctrl-C or SIGTERM stops it cleanly at any moment: exit 0 once the story is told,
    130 or 143 when it stopped the story midway."""
    # a signal while the modules load (nothing started yet) stops the demo at once
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    try:
        from baton.demo import CannotTell, tell

        try:
            code = tell(once=once, verbose=verbose)
        except CannotTell as exc:
            fail(exc.failure)
    except KeyboardInterrupt as exc:
        code = 128 + (exc.args[0] if exc.args else signal.SIGINT)
    sys.exit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signum)
