"""`baton completion SHELL`: the script that teaches a shell to complete `baton` commands.

Where it sits: a command of its own, no server and no database. The script is click's,
the same that `_BATON_COMPLETE=bash_source baton` prints; sourced, it calls `baton` back
with `_BATON_COMPLETE=bash_complete` (or zsh/fish) to ask for the words that fit.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print SHELL's completion script for baton.

    \b
    bash:  eval "$(baton completion bash)"   (or save it under bash-completion's folder)
    zsh:   eval "$(baton completion zsh)"    (after compinit)
    fish:  baton completion fish > ~/.config/fish/completions/baton.fish
    """
    completer = get_completion_class(shell)
    assert completer is not None, shell  # click ships all three
    root = ctx.find_root().command
    click.echo(completer(root, {}, "baton", "_BATON_COMPLETE").source(), nl=False)
