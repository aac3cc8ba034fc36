"""The promotion page: what was asked, where it is, its timeline, and the approver's decision.

Where it sits: a console view over `api.reads.promotion` (the read model, or the log for a
promotion too new for it) and `api.reads.promotion_events` (its timeline, built by
`console.timeline`). Approve and reject run the commands the API runs, with the caller as
actor, and the domain's refusals show on the page. The summary, the decision and the
timeline are fragments the page fetches again when the live stream names the promotion
(or, while it runs, its target).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api import params, reads
from api.auth import Role
from api.context import metadata_for, principal
from api.errors import from_domain, not_found
from api.guard import require
from api.keys import DATABASE, PIPELINES, PROMOTIONS
from api.schemas import ApprovalBody, validate_body
from api.tracing import trace_link
from console.live import READ_MODEL_WAIT_S
from console.pages import page, render
from console.timeline import timeline
from engine.domain import errors
from engine.domain.enums import PromotionPhase


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What the signed-in caller may do about the promotion, and why not."""

    awaiting: bool
    is_requester: bool
    may_decide: bool
    approved: bool


def _time(value: Any) -> datetime | None:
    """A time from the read model (a datetime) or from the log's fallback (ISO text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _promotion_id(request: web.Request) -> str:
    return params.path_part(request, "promotion_id", params.ID, "promotion")


async def _soak(request: web.Request, app: str, environment: str) -> Any:
    known = await request.app[PIPELINES].get(app)
    if known is None:
        return None
    spec = next((e for e in known[0].environments if e.name == environment), None)
    return spec.policy.soak if spec is not None else None


async def _context(request: web.Request, promotion_id: str) -> dict[str, Any]:
    """Everything the page and its fragments draw."""
    found = await reads.promotion(request.app, promotion_id)
    if found is None:
        raise not_found("promotion", f"there is no promotion {promotion_id}")
    app, environment = found["app"], found["environment"]
    events = await reads.promotion_events(request.app, promotion_id)
    subjects = await reads.release_subjects(request.app, [(app, found["release"])])
    caller = principal(request)
    phase = PromotionPhase(found["phase"])
    approvals = [
        {**a, "at": _time(a.get("at")), "by": a.get("by") or a.get("approver", "")}
        for a in found.get("approvals") or []
    ]
    decision = Decision(
        awaiting=phase == PromotionPhase.AWAITING_APPROVAL,
        is_requester=caller.subject == found["requested_by"],
        may_decide=caller.allows(Role.APPROVER, environment),
        approved=any(a["by"] == caller.subject for a in approvals),
    )
    return {
        "promotion": {
            "trace_id": None,
            "override_by": None,
            "override_reason": None,
            **found,
            "requested_at": _time(found.get("requested_at")),
            "finished_at": _time(found.get("finished_at")),
            "approvals": approvals,
        },
        "phase": phase,
        "subject": subjects.get((app, found["release"])),
        "decision": decision,
        "entries": timeline(
            events, soak=await _soak(request, app, environment), now=datetime.now(UTC)
        ),
        "trace_url": functools.partial(trace_link, request.app),
        "refusal": None,
    }


@page()
async def promotion(request: web.Request) -> web.StreamResponse:
    """One promotion, its timeline, and (to an approver) the decision."""
    require(request, Role.VIEWER)
    return render(request, "promotion.html", await _context(request, _promotion_id(request)))


@page()
async def parts(request: web.Request) -> web.StreamResponse:
    """The summary, decision and timeline: what a live page fetches again."""
    require(request, Role.VIEWER)
    context = await _context(request, _promotion_id(request))
    return render(request, "promotion_parts.html", context)


async def _comment(request: web.Request) -> str:
    """The form's comment, held to the API's rules for one."""
    form = await request.post()
    comment = form.get("comment", "")
    return validate_body({"comment": comment}, ApprovalBody).comment.strip()


async def _refused(
    request: web.Request, promotion_id: str, refusal: errors.DomainError
) -> web.StreamResponse:
    """The page again, with the domain's refusal on it (and its status); nothing written."""
    problem = from_domain(refusal)
    context = {**await _context(request, promotion_id), "refusal": problem.body()}
    return render(request, "promotion.html", context, status=problem.status)


async def _decided(request: web.Request, promotion_id: str) -> web.StreamResponse:
    """Back to the page (303), once the read models hold the decision (or a while passed):
    the page the browser loads next shows what its user just did."""
    head = await request.app[DATABASE].store.head_position()
    await reads.read_models_reach(request.app, head, within=READ_MODEL_WAIT_S)
    raise web.HTTPSeeOther(f"/promotions/{promotion_id}")


@page()
async def approve(request: web.Request) -> web.StreamResponse:
    """Approve with a comment. The four-eyes rule is told before the role is asked for:
    a requester cannot approve, whatever their roles."""
    promotion_id = _promotion_id(request)
    comment = await _comment(request)
    service = request.app[PROMOTIONS]
    app, environment = await service.locate(promotion_id)
    target = await service.target(app, environment)
    caller = principal(request)
    refusals = target.approval_refusals(promotion_id, caller.subject) if target else []
    if refusals:
        return await _refused(request, promotion_id, refusals[0])
    require(request, Role.APPROVER, environment)
    try:
        await service.approve(
            app, environment, promotion_id, metadata=metadata_for(request), comment=comment
        )
    except errors.DomainError as exc:  # decided by someone else meanwhile
        return await _refused(request, promotion_id, exc)
    return await _decided(request, promotion_id)


@page()
async def reject(request: web.Request) -> web.StreamResponse:
    """Reject with a comment (the reason recorded)."""
    promotion_id = _promotion_id(request)
    comment = await _comment(request)
    service = request.app[PROMOTIONS]
    app, environment = await service.locate(promotion_id)
    require(request, Role.APPROVER, environment)
    try:
        await service.reject(
            app, environment, promotion_id, metadata=metadata_for(request), reason=comment
        )
    except errors.DomainError as exc:
        return await _refused(request, promotion_id, exc)
    return await _decided(request, promotion_id)
