"""The `baton` command line: one click group, its commands in modules by subject.

Exit codes a script can rely on (`baton.cli.errors.ExitCode`): 0 done, 1 refused, not
found or a check failed, 2 bad usage or configuration, 3 the server or the database
cannot be reached, 4 not authenticated or not allowed. Every failure is one line on stderr.

A command's module is imported only when that command runs (or `--help` lists it), and
the modules import the layers they drive inside their functions, so `baton --help` and
a client command do not pay for starting a server.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from baton.cli.errors import BatonGroup

#: command name -> "module:attribute" of its click command
_COMMANDS = {
    "approve": "baton.cli.promotions:approve",
    "audit": "baton.cli.database:audit",
    "cancel": "baton.cli.promotions:cancel",
    "completion": "baton.cli.completion:completion",
    "config": "baton.cli.source:config",
    "context": "baton.cli.contexts:context",
    "demo": "baton.cli.demo:demo",
    "diff": "baton.cli.reads:diff",
    "git": "baton.cli.source:git",
    "health": "baton.cli.health:health",
    "history": "baton.cli.reads:history",
    "insights": "baton.cli.insights:insights",
    "kubesim": "baton.cli.kubesim:kubesim",
    "login": "baton.cli.contexts:login",
    "logout": "baton.cli.contexts:logout",
    "migrate": "baton.cli.database:migrate",
    "notify": "baton.cli.notify:notify",
    "promote": "baton.cli.promotions:promote",
    "promotion": "baton.cli.listings:promotion",
    "promotions": "baton.cli.listings:promotions",
    "reject": "baton.cli.promotions:reject",
    "releases": "baton.cli.listings:releases",
    "replay": "baton.cli.replay:replay",
    "rollback": "baton.cli.promotions:rollback",
    "serve": "baton.cli.serve:serve",
    "status": "baton.cli.reads:status",
    "version": "baton.cli.version:version",
}


class _LazyGroup(BatonGroup):
    """A `BatonGroup` that imports a command's module when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, none of them imported."""
        return sorted(_COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The command `args` names; an unknown one is refused with the nearest names."""
        from click.exceptions import NoSuchCommand

        try:
            return super().resolve_command(ctx, args)
        except NoSuchCommand as exc:
            # click suggests from the commands it holds, and this group holds none yet
            raise NoSuchCommand(exc.command_name, possibilities=_COMMANDS, ctx=ctx) from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command of that name, its module imported now; None for an unknown name."""
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command: Any = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), target
        return command


@click.group(cls=_LazyGroup)
@click.version_option(package_name="baton")
def main() -> None:
    """baton: an event-sourced promotion engine for GitOps."""
