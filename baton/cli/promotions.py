"""`baton promote`, `approve`, `reject`, `cancel`, `rollback`: the decisions a person takes.

Where it sits: clients of the REST API (`baton.cli.remote`), acting as the subject of
`BATON_TOKEN`; the server's policies decide, and a refusal ends as one line (exit 1, or
4 when the token may not do it). A promotion id may be a unique prefix of it
(`baton.cli.remote.resolve_promotion`). `--dry-run` prints the server's preview instead
(`baton.cli.preview`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from baton.cli.console import make_console
from baton.cli.errors import ExitCode
from baton.cli.preview import print_preview
from baton.cli.remote import call, resolve_promotion, short, with_server

if TYPE_CHECKING:
    from baton.client import Client
    from baton.contexts import Server

DRY_RUN = click.option(
    "--dry-run",
    is_flag=True,
    help="Preview only: the refusals, the manifest diff and a server-side dry run; "
    "exit 0 if it would be accepted, 1 if refused. Nothing is done.",
)


@click.command()
@click.argument("app")
@click.option("--to", "environment", required=True, help="The environment to promote into.")
@click.option("--release", default=None, help="A release SHA (or unique prefix).")
@click.option(
    "--from", "from_environment", default=None, help="Promote what this environment verified last."
)
@click.option("--reason", default="")
@click.option(
    "--override",
    "override_reason",
    default=None,
    help="Admin: set pipeline order or a freeze window aside, for this reason.",
)
@DRY_RUN
@with_server
def promote(
    app: str,
    environment: str,
    release: str | None,
    from_environment: str | None,
    reason: str,
    override_reason: str | None,
    dry_run: bool,
    server: Server,
) -> int:
    """Ask for a release to run in an environment (or, with --dry-run, preview it)."""
    if (release is None) == (from_environment is None):
        raise click.UsageError("give exactly one of --release and --from")
    body: dict[str, Any] = {"app": app, "environment": environment, "reason": reason}
    body.update({"release": release} if release else {"from_environment": from_environment})
    if override_reason:
        body["override"] = {"reason": override_reason}
    if dry_run:
        previewed = call(lambda c: c.post("/promotions/preview", body), server)
        return print_preview(make_console(), previewed)
    result = call(lambda c: c.post("/promotions", body), server)
    make_console().print(
        f"promotion {result['id']} {result['phase']}: {short(result['release'])} "
        f"→ {app}/{environment}"
    )
    return ExitCode.DONE


def _decision(verb: str, given: str, body: dict[str, Any], server: Server) -> None:
    async def work(client: Client) -> dict[str, Any]:
        promotion_id = await resolve_promotion(client, given)
        answer: dict[str, Any] = await client.post(f"/promotions/{promotion_id}/{verb}", body)
        return answer

    result = call(work, server)
    make_console().print(f"promotion {result['id']} {result['phase']}")


@click.command()
@click.argument("promotion_id")
@click.option("--comment", default="")
@with_server
def approve(promotion_id: str, comment: str, server: Server) -> None:
    """Approve a promotion (as the token's subject)."""
    _decision("approve", promotion_id, {"comment": comment}, server)


@click.command()
@click.argument("promotion_id")
@click.option("--reason", default="")
@with_server
def reject(promotion_id: str, reason: str, server: Server) -> None:
    """Reject a promotion that awaits approval."""
    _decision("reject", promotion_id, {"reason": reason}, server)


@click.command()
@click.argument("promotion_id")
@click.option("--reason", default="")
@with_server
def cancel(promotion_id: str, reason: str, server: Server) -> None:
    """Cancel a promotion before it starts."""
    _decision("cancel", promotion_id, {"reason": reason}, server)


@click.command()
@click.argument("app")
@click.option("--env", "environment", required=True)
@click.option(
    "--to",
    "release",
    default=None,
    help="Default: the last release verified there before the current one.",
)
@click.option("--reason", default="")
@DRY_RUN
@with_server
def rollback(
    app: str, environment: str, release: str | None, reason: str, dry_run: bool, server: Server
) -> int:
    """Roll an environment back to a release that was healthy there (or preview it)."""
    given = {"app": app, "environment": environment, "reason": reason, "release": release}
    body = {k: v for k, v in given.items() if v}
    if dry_run:
        previewed = call(lambda c: c.post("/rollbacks/preview", body), server)
        return print_preview(make_console(), previewed)
    result = call(lambda c: c.post("/rollbacks", body), server)
    make_console().print(
        f"rollback {result['id']} {result['phase']}: {app}/{environment} → "
        f"{short(result['release'])}"
    )
    return ExitCode.DONE
