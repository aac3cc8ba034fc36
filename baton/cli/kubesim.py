"""`baton kubesim`: the Kubernetes emulator, with the options of `python -m kubesim`."""

from __future__ import annotations

import contextlib
import sys
from typing import NoReturn

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def kubesim(ctx: click.Context) -> None:
    """Run the Kubernetes emulator (the options of `python -m kubesim`)."""
    from kubesim.__main__ import main as kubesim_main
    from kubesim.__main__ import parser

    options = parser()

    def refuse(message: str) -> NoReturn:
        # argparse would print its usage and exit: a failure of baton's is one line
        unknown = message.partition("unrecognized arguments: ")[2].split()
        if unknown:
            raise click.NoSuchOption(unknown[0], ctx=ctx)
        raise click.UsageError(message, ctx)

    options.error = refuse  # type: ignore[method-assign]
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(kubesim_main(ctx.args, using=options))
