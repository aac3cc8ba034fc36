"""`baton promote --dry-run` and `baton rollback --dry-run`: a preview, printed.

Where it sits: under `baton.cli.promotions`, which asks the server for the preview
(`POST /promotions/preview`, `/rollbacks/preview`); this prints it: the refusals, the
approvals needed, each object added (`+`), changed (`~`, with its unified diff) or
pruned (`-`), and the server-side dry run. Colours only on a terminal. The exit code
says whether the command would be accepted: 0 yes, 1 refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from baton.cli.errors import ExitCode
from baton.cli.remote import short

if TYPE_CHECKING:
    from rich.console import Console

_SIGNS = {"added": ("+", "green"), "changed": ("~", "yellow"), "pruned": ("-", "red")}
_DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}


def _name(obj: dict[str, Any]) -> str:
    where = f"{obj['namespace']}/" if obj.get("namespace") else ""
    return f"{obj['kind']} {where}{obj['name']}"


def _line(console: Console, text: str, style: str | None = None) -> None:
    """One line as it is: no markup, no highlighting (a diff is full of brackets)."""
    from rich.text import Text

    console.print(Text(text, style=style or ""), highlight=False)


def _manifests(console: Console, preview: dict[str, Any]) -> None:
    manifests = preview.get("manifests")
    if manifests is None:
        _line(console, f"manifests: unavailable ({preview.get('manifests_error')})", "yellow")
        return
    counts = ", ".join(f"{len(manifests[k])} {k}" for k in _SIGNS)
    _line(console, f"manifests: {counts}, {manifests['unchanged']} unchanged")
    for change, (sign, style) in _SIGNS.items():
        for obj in manifests[change]:
            _line(console, f"{sign} {_name(obj)}", style)
            for row in obj.get("diff", "").splitlines():
                _line(console, f"    {row}", _DIFF_STYLES.get(row[:1]))


def _dry_run(console: Console, dry_run: dict[str, Any]) -> None:
    reason = f" ({dry_run['reason']})" if dry_run.get("reason") else ""
    _line(console, f"dry run: {dry_run['status']}{reason}")
    styles = {"ok": "green", "refused": "red", "skipped": "yellow"}
    for obj in dry_run["objects"]:
        message = f": {obj['message']}" if obj.get("message") else ""
        _line(console, f"  {obj['verdict']} {_name(obj)}{message}", styles.get(obj["verdict"]))


def print_preview(console: Console, preview: dict[str, Any]) -> int:
    """Print a preview; the exit code of the command it previews (0 accepted, 1 refused)."""
    what = "rollback" if preview["kind"] == "rollback" else "promotion"
    release = preview.get("release")
    number = f" (#{preview['release_number']})" if preview.get("release_number") else ""
    target = f"{preview['app']}/{preview['environment']}"
    _line(
        console,
        f"{what} of {short(release)}{number} → {target}, "
        f"running {short(preview.get('running_release'))}",
    )
    for refusal in preview["refusals"]:
        _line(console, f"refused ({refusal['code']}): {refusal['message']}", "red")
    if preview["approvals_required"]:
        _line(console, f"approvals needed: {preview['approvals_required']}")
    _manifests(console, preview)
    _dry_run(console, preview["dry_run"])
    if preview["accepted"]:
        _line(console, f"the {what} would be accepted (nothing was done: --dry-run)", "green")
        return ExitCode.DONE
    _line(console, f"the {what} would be refused (nothing was done: --dry-run)", "red")
    return ExitCode.REFUSED
