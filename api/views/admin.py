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
from api.keys import JOBS
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import AuditReport, Job, ProjectionStatus
from api.schemas import ReplayCreate, read_body

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
