"""Promotions and rollbacks: request, read, approve, reject, cancel.

Where it sits: the write side of the API. Each view validates the body, checks the role
in the environment concerned, and runs one command of `engine.promotions.Promotions`
with the caller as actor; the domain's refusals become problems in `api.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web

from api import params, reads
from api.auth import Role
from api.context import metadata_for
from api.errors import Problem, Refusal, not_found
from api.guard import require
from api.idempotency import answer_with
from api.keys import PROMOTIONS
from api.operation import Operation, json_answer
from api.render import json_response, promotion_json
from api.responses import Promotion as PromotionAnswer
from api.responses import PromotionList
from api.schemas import (
    ApprovalBody,
    Body,
    DecisionBody,
    PromotionCreate,
    RollbackCreate,
    read_body,
)
from api.tracing import current_trace_id, with_trace_link
from engine.domain.promotion import Override, Promotion
from engine.domain.target import Target
from engine.promotions import Promotions
from engine.repository import AggregateNotFound
from engine.store import EventMetadata

B = TypeVar("B", bound=Body)

PREFIX = "/api/v1"
REFUSED = Refusal(409, "refused by a rule or the target's state (see `type`)")
UNKNOWN = Refusal(422, "no such app, environment or release, or an override without a reason")
ACCEPTED = json_answer(
    PromotionAnswer, "accepted", status=202, headers={"Location": "the promotion's URL"}
)
DECIDED = json_answer(PromotionAnswer, "the promotion after the decision")


@asynccontextmanager
async def naming_fields() -> AsyncIterator[None]:
    """An unknown app or environment in a body is the body's fault: 422 naming the field."""
    try:
        yield
    except AggregateNotFound as exc:
        raise Problem(422, "unknown-app", "No such app", detail=str(exc), field="app") from None
    except KeyError as exc:
        raise Problem(
            422,
            "unknown-environment",
            "No such environment",
            detail=str(exc.args[0]) if exc.args else str(exc),
            field="environment",
        ) from None


def _answer(request: web.Request, app: str, environment: str, promotion: Promotion) -> Any:
    """The promotion, with the trace this call continued it in (and its Jaeger link)."""
    body = {**promotion_json(app, environment, promotion), "trace_id": current_trace_id()}
    return with_trace_link(request.app, body)


def _accepted(
    request: web.Request, app: str, environment: str, promotion: Promotion
) -> web.Response:
    return json_response(
        _answer(request, app, environment, promotion),
        status=202,
        headers={"Location": f"{PREFIX}/promotions/{promotion.id}"},
    )


@Operation(tag="promotions", body=PromotionCreate, answers=[ACCEPTED], refusals=[REFUSED, UNKNOWN])
async def create_promotion(request: web.Request) -> web.Response:
    """Ask for a release to run in an environment.

    Name the release, or the environment to take it from; an override (of pipeline order
    or a freeze window) needs the admin role and a reason.
    """
    body = await read_body(request, PromotionCreate)
    caller = require(request, Role.PROMOTER, body.environment)
    override = None
    if body.override is not None:
        require(request, Role.ADMIN)
        override = Override(by=caller.subject, reason=body.override.reason)
    answer_with(lambda t: _accepted(request, body.app, body.environment, t.promotion))
    async with naming_fields():
        promotion = await request.app[PROMOTIONS].request(
            body.app,
            body.environment,
            metadata=metadata_for(request),
            release=body.release,
            from_environment=body.from_environment,
            reason=body.reason,
            override=override,
        )
    return _accepted(request, body.app, body.environment, promotion)


@Operation(tag="promotions", body=RollbackCreate, answers=[ACCEPTED], refusals=[REFUSED, UNKNOWN])
async def create_rollback(request: web.Request) -> web.Response:
    """Roll back to a release verified before (default: the last one before the current)."""
    body = await read_body(request, RollbackCreate)
    require(request, Role.PROMOTER, body.environment)
    answer_with(lambda t: _accepted(request, body.app, body.environment, t.promotion))
    async with naming_fields():
        promotion = await request.app[PROMOTIONS].rollback(
            body.app,
            body.environment,
            metadata=metadata_for(request),
            to=body.release,
            reason=body.reason,
        )
    return _accepted(request, body.app, body.environment, promotion)


@Operation(tag="promotions", answers=[json_answer(PromotionAnswer, "the promotion")])
async def get_promotion(request: web.Request) -> web.Response:
    """One promotion, from the read model or (just created) the log, with its progress:
    objects applied, health and soak, from its events."""
    promotion_id = params.path_part(request, "promotion_id", params.ID, "promotion")
    found = await reads.promotion(request.app, promotion_id)
    if found is None:
        raise not_found("promotion", f"there is no promotion {promotion_id}")
    found["progress"] = await reads.promotion_progress(request.app, found)
    return json_response(with_trace_link(request.app, found))


APP = params.Text(name="app", description="only this app")
ENVIRONMENT = params.Text(name="environment", description="only this environment")
STATE = params.Choice(
    name="state",
    description="only promotions in this state: `awaiting-approval`, `running` (started "
    "or synced), `pending` (either: not finished yet) or `done` (finished, however)",
    choices=tuple(reads.PROMOTION_STATES),
)
ID_PREFIX = params.Text(
    name="id_prefix",
    description="only promotions whose id starts with this (at least 6 characters): "
    "one item when it names a promotion, more when it is ambiguous",
    min_length=6,
)
LIST_LIMIT = params.Integer(name="limit", description="at most", low=1, high=200, default=50)


@Operation(
    tag="promotions",
    answers=[json_answer(PromotionList, "the promotions")],
    query=[APP, ENVIRONMENT, STATE, ID_PREFIX, LIST_LIMIT],
)
async def list_promotions(request: web.Request) -> web.Response:
    """The latest promotions, by app and in pipeline order, newest first in each target.

    Filter by app, environment and state; `id_prefix` resolves a short id.
    """
    require(request, Role.VIEWER)
    filters = reads.PromotionFilter(
        app=APP.read(request),
        environment=ENVIRONMENT.read(request),
        state=STATE.read(request),
        id_prefix=ID_PREFIX.read(request),
    )
    limit = LIST_LIMIT.read(request)
    assert limit is not None
    return json_response({"items": await reads.find_promotions(request.app, filters, limit=limit)})


def _current(request: web.Request, promotion_id: str, target: Target) -> web.Response:
    if target.promotion is None or target.promotion.id != promotion_id:
        raise not_found("promotion", f"there is no promotion {promotion_id}")
    return json_response(_answer(request, target.app, target.environment, target.promotion))


async def _decide(
    request: web.Request,
    body_type: type[B],
    role: Role,
    act: Callable[[Promotions, str, str, str, EventMetadata, B], Awaitable[Target]],
) -> web.Response:
    """Locate the promotion's target, check the caller may act there, act, answer."""
    promotion_id = params.path_part(request, "promotion_id", params.ID, "promotion")
    body = await read_body(request, body_type)
    service = request.app[PROMOTIONS]
    app, environment = await service.locate(promotion_id)
    require(request, role, environment)
    answer_with(lambda t: _current(request, promotion_id, t))
    target = await act(service, app, environment, promotion_id, metadata_for(request), body)
    return _current(request, promotion_id, target)


@Operation(
    tag="promotions",
    body=ApprovalBody,
    body_required=False,
    answers=[DECIDED],
    refusals=[REFUSED, Refusal(403, "the requester cannot approve their own promotion")],
)
async def approve_promotion(request: web.Request) -> web.Response:
    """Approve (someone other than the requester)."""
    return await _decide(
        request,
        ApprovalBody,
        Role.APPROVER,
        lambda s, app, env, pid, meta, body: s.approve(
            app, env, pid, metadata=meta, comment=body.comment
        ),
    )


@Operation(
    tag="promotions", body=DecisionBody, body_required=False, answers=[DECIDED], refusals=[REFUSED]
)
async def reject_promotion(request: web.Request) -> web.Response:
    """Reject a promotion awaiting approval."""
    return await _decide(
        request,
        DecisionBody,
        Role.APPROVER,
        lambda s, app, env, pid, meta, body: s.reject(
            app, env, pid, metadata=meta, reason=body.reason
        ),
    )


@Operation(
    tag="promotions", body=DecisionBody, body_required=False, answers=[DECIDED], refusals=[REFUSED]
)
async def cancel_promotion(request: web.Request) -> web.Response:
    """Cancel a promotion before it starts."""
    return await _decide(
        request,
        DecisionBody,
        Role.PROMOTER,
        lambda s, app, env, pid, meta, body: s.cancel(
            app, env, pid, metadata=meta, reason=body.reason
        ),
    )
