"""`baton kubesim`: the Kubernetes emulator, with the options of `python -m kubesim`."""

from __future__ import annotations

import contextlib
import sys

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def kubesim(ctx: click.Context) -> None:
    """Run the Kubernetes emulator (the options of `python -m kubesim`)."""
    from kubesim.__main__ import main as kubesim_main

    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(kubesim_main(ctx.args))
