"""`baton notify ...`: the notification channels from the command line.

Where it sits: beside `baton config`; no database needed. `notify test CHANNEL` loads the
environments config, sends the channel a made-up message of its first trigger (signed,
retried as the notifier would, for at most 30 seconds) and prints how it went. Exit
codes follow `baton.cli.errors`: 0 delivered, 1 not delivered or no such channel, 2 an
invalid config.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import click

from baton.cli.errors import ExitCode, Failure, fail

_TEST_GIVE_UP = timedelta(seconds=30)


@click.group()
def notify() -> None:
    """Notification channels: send a test message."""


@notify.command("test")
@click.argument("channel")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of *.yaml files (default: BATON_ENVIRONMENTS or ./environments).",
)
def notify_test(channel: str, directory: Path | None) -> None:
    """Send CHANNEL a test message of its first trigger; print the outcome."""
    from engine.config.loader import load_environments
    from engine.notify.notifier import public_url, send_test
    from engine.settings import Settings

    config = load_environments(directory or Settings.from_env().environments_dir)
    found = next((c for c in config.notifications if c.name == channel), None)
    if found is None:
        names = ", ".join(c.name for c in config.notifications) or "none"
        fail(
            Failure(f"no notification channel {channel!r}", f"channels: {names}", ExitCode.REFUSED)
        )
    found = replace(found, give_up_after=min(found.give_up_after, _TEST_GIVE_UP))
    outcome = asyncio.run(send_test(found, public_url=public_url()))
    if not outcome.delivered:
        fail(
            Failure(
                f"channel {channel}: not delivered after {outcome.attempts} attempt(s): "
                f"{outcome.error}",
                "check the receiver, and the channel's url, smtp and secret_env",
                ExitCode.REFUSED,
            )
        )
    click.echo(f"delivered to {channel} (status {outcome.status}, {outcome.attempts} attempt(s))")
