"""Promote and Roll back from the console: a preview first, then the command on confirm.

Where it sits: after the app page's forms. The preview is the API's (`engine.preview`
through `api.views.previews.preview_answer`): the rules' refusals, the approvals needed,
the manifests compared object by object, a server-side dry run; it writes nothing and
needs the viewer role. Confirming posts the same fields back (the CSRF token checked by
`@page`), checks the promoter role in the environment, and runs the command the API runs
(`Promotions.request` / `rollback`, the caller as actor); then the browser goes to the
promotion's page. A command refused at confirm time shows the preview again, with the
reason, and its status; nothing was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

from api import reads
from api.auth import Role
from api.context import metadata_for
from api.errors import Problem, from_domain, not_found
from api.guard import require
from api.keys import PREVIEWER, PROMOTIONS
from api.schemas import PromotionCreate, RollbackCreate, validate_body
from api.views.previews import preview_answer
from api.views.promotions import naming_fields
from console.pages import page, render
from engine.domain.errors import DomainError
from engine.preview import Preview

#: the manifest diff's groups as the preview lists them
_GROUPS = (("added", "Added", "+"), ("changed", "Changed", "~"), ("pruned", "Pruned", "-"))


class Change(StrEnum):
    """The two changes the app page offers (also their paths: /apps/{app}/<change>)."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"

    @property
    def is_rollback(self) -> bool:
        """True for a rollback."""
        return self is Change.ROLLBACK


@dataclass(frozen=True, kw_only=True)
class Ask:
    """What a Promote or Roll back form asks for."""

    kind: Change
    app: str
    environment: str
    release: str | None
    from_environment: str | None
    reason: str

    def fields(self) -> dict[str, str]:
        """The form's fields, to post back on confirm."""
        out = {"environment": self.environment, "reason": self.reason}
        if self.release:
            out["release"] = self.release
        elif self.from_environment:
            out["from"] = self.from_environment
        return out


def _field(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    text = value.strip() if isinstance(value, str) else ""
    return text or None


def _ask(kind: Change, app: str, values: Mapping[str, Any]) -> Ask:
    """The form's fields, held to the rules of the API's bodies; 422 naming one at fault."""
    environment = _field(values, "environment")
    if environment is None:
        raise Problem(422, "validation-error", "Which environment?", field="environment")
    data: dict[str, Any] = {
        "app": app,
        "environment": environment,
        "reason": _field(values, "reason") or "",
    }
    release = _field(values, "release")
    if release is not None:
        data["release"] = release
    elif not kind.is_rollback:
        source = _field(values, "from")
        if source is None:
            raise Problem(
                422,
                "validation-error",
                "Which release?",
                detail="pick a release, or the environment to take it from",
                field="release",
            )
        data["from_environment"] = source
    body: PromotionCreate | RollbackCreate
    if kind.is_rollback:
        body = validate_body(data, RollbackCreate)
        source = None
    else:
        body = validate_body(data, PromotionCreate)
        source = body.from_environment
    return Ask(
        kind=kind,
        app=app,
        environment=body.environment,
        release=body.release,
        from_environment=source,
        reason=body.reason,
    )


async def _preview(request: web.Request, ask: Ask) -> Preview:
    if await reads.one_app(request.app, ask.app) is None:
        raise not_found("app", f"there is no app {ask.app}")
    previewer = request.app[PREVIEWER]
    async with naming_fields():
        if ask.kind.is_rollback:
            return await previewer.rollback(ask.app, ask.environment, to=ask.release)
        return await previewer.promotion(
            ask.app, ask.environment, release=ask.release, from_environment=ask.from_environment
        )


def diff_lines(text: str) -> list[tuple[str, str]]:
    """A unified diff's lines, each with its class: added, removed, hunk, file or same."""
    out = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("+"):
            kind = "added"
        elif line.startswith("-"):
            kind = "removed"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = "same"
        out.append((kind, line))
    return out


async def _show(
    request: web.Request, ask: Ask, *, refused: DomainError | None = None
) -> web.Response:
    """The preview page of `ask` (with the refusal the command just met, if any)."""
    caller = require(request, Role.VIEWER)
    answer = preview_answer(await _preview(request, ask), caller, [Role.PROMOTER])
    status = 200
    if refused is not None:
        status = from_domain(refused).status
        known = {r["message"] for r in answer["refusals"]}
        if str(refused) not in known:
            refusal = {"code": refused.code, "status": status, "message": str(refused)}
            answer["refusals"] = [refusal, *answer["refusals"]]
        answer["accepted"] = False
    manifests = answer["manifests"] or {}
    objects = [
        {
            "key": key,
            "title": title,
            "sign": sign,
            "objects": [(o, diff_lines(o.get("diff", ""))) for o in manifests.get(key, [])],
        }
        for key, title, sign in _GROUPS
    ]
    context = {"ask": ask, "preview": answer, "objects": objects, "refused": refused is not None}
    return render(request, "preview.html", context, status=status)


@page()
async def promote_preview(request: web.Request) -> web.StreamResponse:
    """What promoting would do: refusals, approvals, the manifest diff, a dry run."""
    require(request, Role.VIEWER)
    return await _show(request, _ask(Change.PROMOTE, request.match_info["app"], request.query))


@page()
async def rollback_preview(request: web.Request) -> web.StreamResponse:
    """What rolling back would do, shown as a promotion's preview."""
    require(request, Role.VIEWER)
    return await _show(request, _ask(Change.ROLLBACK, request.match_info["app"], request.query))


async def _confirm(request: web.Request, kind: Change) -> web.StreamResponse:
    ask = _ask(kind, request.match_info["app"], await request.post())
    require(request, Role.PROMOTER, ask.environment)
    promotions = request.app[PROMOTIONS]
    try:
        async with naming_fields():
            if kind.is_rollback:
                promotion = await promotions.rollback(
                    ask.app,
                    ask.environment,
                    metadata=metadata_for(request),
                    to=ask.release,
                    reason=ask.reason,
                )
            else:
                promotion = await promotions.request(
                    ask.app,
                    ask.environment,
                    metadata=metadata_for(request),
                    release=ask.release,
                    from_environment=ask.from_environment,
                    reason=ask.reason,
                )
    except DomainError as exc:
        return await _show(request, ask, refused=exc)
    raise web.HTTPSeeOther(f"/promotions/{promotion.id}")


@page()
async def promote(request: web.Request) -> web.StreamResponse:
    """Confirm a promotion: the promoter role there, then `Promotions.request`."""
    return await _confirm(request, Change.PROMOTE)


@page()
async def rollback(request: web.Request) -> web.StreamResponse:
    """Confirm a rollback: the promoter role there, then `Promotions.rollback`."""
    return await _confirm(request, Change.ROLLBACK)
