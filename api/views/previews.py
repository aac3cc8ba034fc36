"""Previews of a promotion or a rollback: what the command would decide and change.

Where it sits: beside `api.views.promotions`, with the same bodies. A preview writes
nothing, so it needs only the viewer role; whether the caller could make the command is
part of the answer (`allowed`, and a `forbidden` refusal), as are the domain's refusals,
the approvals the environment needs, the rendered manifests compared object by object,
and a server-side dry run in the environment's cluster (`engine.preview`). An unknown
app, environment or release is refused as the command refuses it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from api.auth import Principal, Role
from api.errors import from_domain
from api.guard import require
from api.keys import CONFIG, PREVIEWER, PROMOTIONS, SETTINGS
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import Preview as PreviewAnswer
from api.schemas import PromotionCreate, RollbackCreate, read_body
from api.views.promotions import UNKNOWN, naming_fields
from engine.appliers.diff import ObjectChange
from engine.appliers.render import GitRenderer
from engine.domain.promotion import Override
from engine.kube import Clusters, RetryPolicy
from engine.preview import Preview, Previewer

PREVIEWED = json_answer(PreviewAnswer, "what the command would do; nothing was written")
#: a cluster that does not answer soon makes the dry run `unavailable`, not the preview slow
_DRY_RUN_RETRY = RetryPolicy(attempts=2, base=0.05, cap=0.5, timeout=3.0)


async def previewer_ctx(app: web.Application) -> AsyncIterator[None]:
    """The previewer: the promotion service, the Git mirrors, and cluster clients of its own."""
    config = app[CONFIG]
    clusters = Clusters(kubeconfig=config.kubeconfig, retry=_DRY_RUN_RETRY)
    app[PREVIEWER] = Previewer(
        app[PROMOTIONS],
        renderer=GitRenderer(app[SETTINGS].home, timeout=20.0),
        clusters=clusters,
        timeout=config.preview_timeout.total_seconds(),
    )
    try:
        yield
    finally:
        await clusters.aclose()


def _missing(caller: Principal, roles: Sequence[Role], environment: str) -> list[dict[str, Any]]:
    """The role refusal the command would answer with, if the caller lacks a role it needs."""
    for role in roles:
        if not caller.allows(role, environment):
            where = f" in {environment}" if role.is_scoped else ""
            message = f"{caller.subject} needs the {role} role{where}"
            return [{"code": "forbidden", "status": 403, "message": message}]
    return []


def _object(change: ObjectChange) -> dict[str, Any]:
    body: dict[str, Any] = change.ref.to_json()
    if change.diff:
        body["diff"] = change.diff
    return body


def preview_answer(preview: Preview, caller: Principal, roles: Sequence[Role]) -> dict[str, Any]:
    """A preview as the API answers it (the console draws the same answer)."""
    check, diff, dry_run = preview.check, preview.manifests, preview.dry_run
    forbidden = _missing(caller, roles, preview.environment)
    refusals = forbidden + [
        {"code": e.code, "status": from_domain(e).status, "message": str(e)} for e in check.refusals
    ]
    return {
        "app": preview.app,
        "environment": preview.environment,
        "kind": check.kind,
        "release": check.release.sha if check.release else None,
        "release_number": check.release.number if check.release else None,
        "running_release": check.running,
        "accepted": not refusals,
        "allowed": not forbidden,
        "required_role": roles[-1].value,
        "refusals": refusals,
        "approvals_required": check.approvals_required,
        "manifests": None
        if diff is None
        else {
            "added": [_object(c) for c in diff.added],
            "changed": [_object(c) for c in diff.changed],
            "pruned": [_object(c) for c in diff.pruned],
            "unchanged": diff.unchanged,
        },
        "manifests_error": preview.manifests_error or None,
        "dry_run": {
            "status": dry_run.status.value,
            "reason": dry_run.reason or None,
            "objects": [
                {**o.ref.to_json(), "verdict": o.verdict.value, "message": o.message}
                for o in dry_run.objects
            ],
        },
    }


@Operation(tag="promotions", body=PromotionCreate, answers=[PREVIEWED], refusals=[UNKNOWN])
async def preview_promotion(request: web.Request) -> web.Response:
    """Preview a promotion: the rules' verdict, the manifest diff and a dry run; writes nothing.

    The body is the promotion's. Needs the viewer role only: `allowed` tells whether the
    caller holds the role the promotion itself needs (promoter there; admin for an override),
    and `refusals` every reason it would be refused.
    """
    body = await read_body(request, PromotionCreate)
    caller = require(request, Role.VIEWER)
    roles = [Role.PROMOTER]
    override = None
    if body.override is not None:
        roles.append(Role.ADMIN)
        override = Override(by=caller.subject, reason=body.override.reason)
    async with naming_fields():
        preview = await request.app[PREVIEWER].promotion(
            body.app,
            body.environment,
            release=body.release,
            from_environment=body.from_environment,
            override=override,
        )
    return json_response(preview_answer(preview, caller, roles))


@Operation(tag="promotions", body=RollbackCreate, answers=[PREVIEWED], refusals=[UNKNOWN])
async def preview_rollback(request: web.Request) -> web.Response:
    """Preview a rollback: the release it would go back to, the manifest diff and a dry run.

    The body is the rollback's; writes nothing. Needs the viewer role only: `allowed` tells
    whether the caller holds the promoter role there, which the rollback itself needs.
    """
    body = await read_body(request, RollbackCreate)
    caller = require(request, Role.VIEWER)
    async with naming_fields():
        preview = await request.app[PREVIEWER].rollback(body.app, body.environment, to=body.release)
    return json_response(preview_answer(preview, caller, [Role.PROMOTER]))
