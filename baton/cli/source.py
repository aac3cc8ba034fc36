"""`baton config ...` and `baton git ...`: the environments config and the Git source
from the command line.

Where it sits: the operator's way in before the API exists — check a config (no
database needed), apply it (records `App.Registered` / `App.ConfigChanged`), poll the
Git sources once and see what became a release. Exit codes follow `baton.cli.errors`:
0 success, 1 a check failed (a source or a cluster that is missing or does not answer),
2 the config files are invalid, 3 no database; the database must have been migrated
(`baton migrate`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode, Failure, fail

if TYPE_CHECKING:
    from engine.config.loader import EnvironmentsConfig
    from engine.settings import Settings

CLI_ACTOR = "cli"


def _load(directory: Path | None, settings: Settings) -> EnvironmentsConfig:
    from engine.config.loader import ConfigError, load_environments

    try:
        return load_environments(directory or settings.environments_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)  # one line each, never wrapped: greppable
        make_console(stderr=True).print(
            f"[red]{len(exc.problems)} problem(s); nothing was applied[/]"
        )
        sys.exit(ExitCode.USAGE)


def _check_local_repos(loaded: EnvironmentsConfig, apps: tuple[str, ...]) -> None:
    """Stop, in one line, on an app whose repository is a local path that does not exist."""
    for app in loaded.apps:
        # the loader made every local path absolute; URLs and user@host:path are not
        local = Path(app.repo).is_absolute()
        if (not apps or app.name in apps) and local and not Path(app.repo).exists():
            fail(
                Failure(
                    f"{app.source_file}: app {app.name}: repo {app.repo} does not exist",
                    "create the repository there or fix `repo:` in that file",
                    ExitCode.REFUSED,
                )
            )


_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of *.yaml files (default: BATON_ENVIRONMENTS or ./environments).",
)


@click.group()
def config() -> None:
    """The environments config (environments/*.yaml)."""


def _seconds(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from engine.domain.policy import parse_duration

    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter(f"{value!r} must be more than 0s")
    return seconds


@config.command("check")
@_DIR
@click.option(
    "--offline",
    is_flag=True,
    help="Check the files only: do not ask the Git repositories and the clusters.",
)
@click.option(
    "--kubeconfig",
    envvar="BATON_KUBECONFIG",
    default=None,
    metavar="PATH",
    help="The clusters' kubeconfig, as `baton serve` gets it (BATON_KUBECONFIG); without "
    "it kubesim:* clusters are emulated and not asked.",
)
@click.option(
    "--timeout",
    "timeout_s",
    default="5s",
    show_default=True,
    metavar="DURATION",
    callback=_seconds,
    help="How long each repository or cluster may take to answer.",
)
def config_check(
    directory: Path | None, offline: bool, kubeconfig: str | None, timeout_s: float
) -> None:
    """Validate the config, then check that each app's repository answers, its branch
    and path exist and its manifests render, and that each cluster context exists and
    answers (not with --offline). Every problem is printed as file:line: what: message."""
    from engine.settings import Settings

    console = make_console()
    loaded = _load(directory, Settings.from_env())
    result = None
    if not offline and loaded.apps:
        from engine.config.probe import probe_config

        result = asyncio.run(probe_config(loaded, kubeconfig=kubeconfig, timeout_s=timeout_s))
    for app in loaded.apps:
        if result is None or app.name not in result.failed:
            chain = " → ".join(e.name for e in app.environments)
            console.print(f"[green]ok[/] {app.name}: {app.repo} ({app.branch}:{app.path}) {chain}")
    if loaded.health is not None:
        kinds = " ".join(f"{group or '_'}/{kind}" for group, kind in loaded.health.kinds())
        console.print(f"[green]ok[/] health checks: {kinds or 'none'}")
    for channel in loaded.notifications:
        triggers = ", ".join(sorted(channel.triggers))
        console.print(f"[green]ok[/] notifications: {channel.name} ({channel.type}) on {triggers}")
    if not loaded.apps:
        return
    if result is None:
        console.print("offline: repositories and clusters were not checked")
        return
    for problem in result.problems:
        click.echo(str(problem), err=True)  # one line each, never wrapped: greppable
    apps, clusters = len(loaded.apps), len(result.clusters)
    checked = f"{apps} app(s), {clusters} cluster(s)"
    if result.emulated:
        checked += f"; {len(result.emulated)} kubesim cluster(s) emulated by `baton serve`"
    if result.problems:
        make_console(stderr=True).print(f"[red]{len(result.problems)} problem(s) in {checked}[/]")
        sys.exit(ExitCode.REFUSED)
    console.print(f"[green]all checks passed[/]: {checked}")


@config.command("apply")
@_DIR
def config_apply(directory: Path | None) -> None:
    """Record the config as events: new apps registered, changed ones with their diff."""
    from engine.config.sync import apply_config
    from engine.repository import Repository
    from engine.runtime import open_database
    from engine.settings import Settings
    from engine.store import EventMetadata

    settings = Settings.from_env()
    loaded = _load(directory, settings)

    async def run() -> None:
        async with open_database(settings, require_migrated=True) as db:
            outcomes = await apply_config(
                loaded, Repository(db.store), metadata=EventMetadata(actor=CLI_ACTOR)
            )
        console = make_console()
        for name, outcome in outcomes.items():
            console.print(f"{name}: {outcome}")

    asyncio.run(run())


@click.group()
def git() -> None:
    """The Git source of each app."""


@git.command("poll")
@_DIR
@click.argument("apps", nargs=-1)
def git_poll(directory: Path | None, apps: tuple[str, ...]) -> None:
    """Poll the Git source of APPS (default: all) once and record what is new."""
    from rich.table import Table

    from engine.releases import build_watcher
    from engine.repository import Repository
    from engine.runtime import open_database
    from engine.settings import Settings

    settings = Settings.from_env()
    loaded = _load(directory, settings)
    unknown = sorted(set(apps) - {a.name for a in loaded.apps})
    if unknown:
        raise click.BadParameter(f"no app {', '.join(unknown)} in the config", param_hint="APPS")
    _check_local_repos(loaded, apps)

    async def run() -> bool:
        async with open_database(settings, require_migrated=True) as db:
            watcher = build_watcher(loaded, settings=settings, repository=Repository(db.store))
            try:
                names = apps or watcher.apps
                results = await asyncio.gather(*(watcher.poll(name) for name in names))
            finally:
                watcher.close()
        table = Table("app", "head", "released", "rejected", "rewritten from", "status")
        for r in results:
            table.add_row(
                r.app,
                (r.head or "")[:12],
                " ".join(s[:12] for s in r.released),
                " ".join(s[:12] for s in r.rejected),
                (r.rewritten_from or "")[:12],
                "ok" if r.ok else f"failed: {' '.join(str(r.reason).split())}",
            )
        make_console().print(table)
        return all(r.ok for r in results)

    if not asyncio.run(run()):
        sys.exit(ExitCode.REFUSED)
