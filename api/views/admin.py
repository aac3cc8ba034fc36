"""Operations: verify the hash chain, replay (rebuild) projections, see projection lag.

Where it sits: the operator's corner of the API. Replays run as background jobs
(`api.jobs`) that the client polls through any API process; `/audit/verify` recomputes the
log's hash chain and records how far it held.
"""

from __future__ import annotations

from aiohttp import web

from api import reads
from api.auth import Role
from api.errors import Problem, Refusal, not_found
from api.guard import require
from api.jobs import JobRunning
from api.keys import DATABASE, JOBS
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import AuditReport, Job, ProjectionStatus, SubscriptionList, SubscriptionState
from api.schemas import ReplayCreate, read_body
from engine.domain.errors import NotParked
from engine.subscriptions import Subscriptions, UnknownSubscription, status_json

PREFIX = "/api/v1"
REPLAY = "replay"


@Operation(tag="audit", answers=[json_answer(AuditReport, "the report")])
async def audit_verify(request: web.Request) -> web.Response:
    """Recompute the hash chain; name the first broken position. Each run is recorded."""
    require(request, Role.VIEWER)
    return json_response(reads.verification_json(await reads.verify_chain(request.app)))


@Operation(
    tag="admin",
    body=ReplayCreate,
    body_required=False,
    answers=[json_answer(Job, "the job", status=202, headers={"Location": "the job's URL"})],
    refusals=[Refusal(409, "a replay is already running (see `job_id`)")],
)
async def start_replay(request: web.Request) -> web.Response:
    """Rebuild projections in the background; 202 with the job to poll."""
    caller = require(request, Role.ADMIN)
    body = await read_body(request, ReplayCreate)
    work = reads.rebuild_work(request.app, reads.check_projections(body.projections))
    try:
        job = await request.app[JOBS].start(kind=REPLAY, requested_by=caller.subject, work=work)
    except JobRunning as running:
        raise Problem(
            409,
            "replay-running",
            "A replay is already running",
            detail=f"job {running.job.id} is still running",
            job_id=running.job.id,
        ) from None
    return json_response(
        job.to_json(), status=202, headers={"Location": f"{PREFIX}/admin/replay/{job.id}"}
    )


@Operation(tag="admin", answers=[json_answer(Job, "the job")])
async def get_replay(request: web.Request) -> web.Response:
    """A replay job's state and result."""
    require(request, Role.ADMIN)
    job = await request.app[JOBS].get(request.match_info["job_id"])
    if job is None or job.kind != REPLAY:
        raise not_found("job", f"there is no replay job {request.match_info['job_id']}")
    return json_response(job.to_json())


@Operation(tag="admin", answers=[json_answer(ProjectionStatus, "the status")])
async def projections_status(request: web.Request) -> web.Response:
    """Projection checkpoints and lag behind the log."""
    require(request, Role.ADMIN)
    return json_response(await reads.projection_status(request.app))


@Operation(tag="admin", answers=[json_answer(SubscriptionList, "every subscription")])
async def subscriptions_status(request: web.Request) -> web.Response:
    """Durable subscriptions: checkpoint, lag behind the log, consumer, parked events."""
    require(request, Role.ADMIN)
    head, statuses = await Subscriptions(request.app[DATABASE].store).statuses()
    return json_response(
        {"head_position": head, "subscriptions": [status_json(s) for s in statuses]}
    )


@Operation(
    tag="admin",
    answers=[
        json_answer(SubscriptionState, "the subscription, the event off its list", status=202)
    ],
)
async def retry_parked(request: web.Request) -> web.Response:
    """Hand a parked event to its subscription's handler again (recorded as an event; the
    consumer delivers it, or parks it again)."""
    caller = require(request, Role.ADMIN)
    name, position = request.match_info["name"], request.match_info["position"]
    subscriptions = Subscriptions(request.app[DATABASE].store)
    try:
        await subscriptions.retry_parked(name, _position(position), actor=caller.subject)
    except UnknownSubscription as exc:
        raise not_found("subscription", str(exc)) from None
    except NotParked as exc:
        raise not_found("parked event", str(exc)) from None
    _, statuses = await subscriptions.statuses()
    status = next(s for s in statuses if s.row.name == name)
    return json_response(status_json(status), status=202)


def _position(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise not_found("parked event", f"{text!r} is not a position of the log")
    return int(text)
