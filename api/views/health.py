"""Liveness and readiness, for load balancers and orchestrators.

Where it sits: public, cheap views. `healthz` says the process answers, and which version of
baton it runs (`baton version` shows it); `readyz` says it can do its job: the database
answers, every migration is applied, and the projections are within a bound of the log's
head. Its body also shows each background task of the
process (`tasks`: running, failing since when and why, stopped); they inform, they do not
decide readiness — a cluster that is down must not take the API out of a load balancer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from api import reads
from api.guard import public
from api.keys import CONFIG, DATABASE, SUPERVISOR
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import Liveness, Readiness
from engine.store.migrate import pending_migrations
from engine.version import installed_version

_DB_TIMEOUT_S = 2.0


VERSION = installed_version()


@public
@Operation(tag="health", answers=[json_answer(Liveness, "the process answers")])
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process is up; its body names the server's version."""
    return json_response({"status": "ok", "version": VERSION})


async def _database_checks(request: web.Request) -> dict[str, Any]:
    pool = request.app[DATABASE].store.pool
    try:
        async with asyncio.timeout(_DB_TIMEOUT_S), pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
            pending = await pending_migrations(conn)
    except Exception as exc:  # whatever the failure, the answer is "not ready"
        return {"database": {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}}
    return {
        "database": {"ok": True},
        "migrations": {"ok": not pending, "pending": pending},
    }


async def _projection_check(request: web.Request) -> dict[str, Any]:
    bound = request.app[CONFIG].ready_max_lag
    try:
        async with asyncio.timeout(_DB_TIMEOUT_S):
            status = await reads.projection_status(request.app)
    except Exception as exc:  # no read models yet, or the database went away meanwhile
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}", "max_lag": bound}
    lags = {p["name"]: p["lag"] for p in status["projections"]}
    if not lags:
        return {"ok": False, "detail": "no projection has been set up", "max_lag": bound}
    return {"ok": max(lags.values()) <= bound, "max_lag": bound, "lag": lags}


@public
@Operation(
    tag="health",
    answers=[
        json_answer(Readiness, "ready"),
        json_answer(Readiness, "not ready: the failing check says why", status=503),
    ],
)
async def readyz(request: web.Request) -> web.Response:
    """Readiness: database, migrations, projection lag; background tasks shown.

    200 when ready, 503 naming the failing check otherwise. The background tasks inform;
    they do not decide readiness.
    """
    checks = await _database_checks(request)
    if checks["database"]["ok"]:
        checks["projections"] = await _projection_check(request)
    ready = all(c.get("ok", False) for c in checks.values())
    tasks = {s.name: s.to_json() for s in request.app[SUPERVISOR].statuses()}
    body = {"ready": ready, "checks": checks, "tasks": tasks}
    return json_response(body, status=200 if ready else 503)
