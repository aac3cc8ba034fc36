"""`Idempotency-Key` on POST: a retried request gets the first answer and writes nothing twice.

Where it sits: a middleware after authentication (keys belong to a subject). The first
request with a key reserves it and runs. A view whose command appends events names how it
answers (`answer_with`), and the answer is committed in the same transaction as the events
(`engine.store.idempotency`); any other answer (a 4xx refusal) is stored afterwards. A
retry with the same key and the same request replays that answer; the same key with a
different request is refused (422); a retry while the first is still running waits for
it, for a few seconds, then gets 409 with Retry-After. A 5xx or a crash releases the key,
since the client may rightly try again.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from api.context import principal
from api.errors import Handler, Problem, Refusal, to_problem
from api.keys import CONFIG, IDEMPOTENCY, PRINCIPAL
from api.operation import Header
from engine.store.idempotency import (
    PENDING_ANSWER,
    Claim,
    IdempotencyKeys,
    PendingAnswer,
    Reservation,
    StoredResponse,
)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEPT_HEADERS = ("Location", "Content-Type")
_POLL_S = 0.05

#: the header every authenticated POST takes, and what it can answer
KEY = Header(
    name=HEADER,
    description="a retry with the same key gets the first answer; nothing is written twice",
    schema=Annotated[str, Field(min_length=1, max_length=200)],
)
KEY_REFUSALS = (
    Refusal(400, "a malformed Idempotency-Key"),
    Refusal(409, "a request with this Idempotency-Key is still running", retry_after=True),
    Refusal(413, "the body is too large"),
    Refusal(422, "the Idempotency-Key was used for another request"),
)


def stored(response: web.Response) -> StoredResponse:
    """What is kept of an answer to replay it."""
    headers = {h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers}
    return StoredResponse(status=response.status, body=response.text or "", headers=headers)


def answer_with(render: Callable[[Any], web.Response]) -> None:
    """Commit a keyed request's answer with its events: `render` answers from the aggregate
    its command saved (the last one, when it saves several)."""
    pending = PENDING_ANSWER.get()
    if pending is not None:
        pending.render = lambda aggregates: stored(render(aggregates[-1]))


async def _claim(keys: IdempotencyKeys, request: web.Request, key: str, digest: str) -> Reservation:
    """Reserve the key, waiting a while for a first request that is still running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.app[CONFIG].idempotency_wait.total_seconds()
    subject = principal(request).subject
    while True:
        reservation = await keys.claim(
            subject=subject, key=key, method=request.method, path=request.path,
            request_hash=digest,
        )  # fmt: skip
        if reservation.claim is not Claim.IN_PROGRESS or loop.time() >= deadline:
            return reservation
        await asyncio.sleep(_POLL_S)


def _check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Bad Idempotency-Key header",
            detail="an Idempotency-Key is 1 to 200 printable characters",
            field=HEADER,
        )
    return key


def _replay(stored: StoredResponse) -> web.Response:
    headers = dict(stored.headers)
    content_type = headers.pop("Content-Type", "application/json").split(";")[0]
    headers[REPLAYED] = "true"
    return web.Response(
        status=stored.status, text=stored.body, headers=headers, content_type=content_type
    )


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        problem = to_problem(request, exc)
        if problem is None:
            raise
        return problem.response(request.path)


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply idempotency to authenticated POSTs that carry the header."""
    raw_key = request.headers.get(HEADER)
    if request.method != "POST" or raw_key is None or PRINCIPAL not in request:
        return await handler(request)
    key = _check_key(raw_key)
    subject = principal(request).subject
    body = await request.read()
    digest = hashlib.sha256(request.path_qs.encode() + b"\n" + body).hexdigest()
    keys = request.app[IDEMPOTENCY]
    reservation = await _claim(keys, request, key, digest)
    if reservation.claim is Claim.MISMATCH:
        raise Problem(
            422,
            "idempotency-key-reused",
            "Idempotency-Key used for another request",
            detail=f"this key was first used for a different {reservation.first_path} "
            "request; use a new key for a new request",
            field=HEADER,
        )
    if reservation.claim is Claim.IN_PROGRESS:
        raise Problem(
            409,
            "idempotency-key-in-progress",
            "A request with this key is running",
            detail="retry once the first request has been answered",
            field=HEADER,
            headers={"Retry-After": str(max(1, math.ceil(reservation.lease_left)))},
        )
    if reservation.claim is Claim.REPLAY:
        assert reservation.response is not None
        return _replay(reservation.response)
    assert reservation.owner is not None
    owner = reservation.owner
    pending = PendingAnswer(subject=subject, key=key, owner=owner)
    token = PENDING_ANSWER.set(pending)
    try:
        response = await _answer(request, handler)
    except BaseException:
        await keys.release(subject=subject, key=key, owner=owner)
        raise
    finally:
        PENDING_ANSWER.reset(token)
    if pending.recorded:  # committed with the request's events
        return response
    if response.status >= 500 or not isinstance(response, web.Response):
        await keys.release(subject=subject, key=key, owner=owner)
        return response
    await keys.complete(subject=subject, key=key, owner=owner, response=stored(response))
    return response
